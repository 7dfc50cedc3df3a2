"""The embedded broker's transport: kombu's SQLAlchemy transport, polled often enough to start jobs promptly."""

import threading
import time

import pytest
from kombu import Connection

from worker.broker import POLLING_INTERVAL_S, prompt_broker_url


def test_kombus_own_polling_option_breaks_the_sqlalchemy_transport(tmp_path):
    """The defect worked around in worker.broker. When kombu fixes it, this fails: then use the option."""
    connection = Connection(f"sqla+sqlite:///{tmp_path}/broker.sqlite", transport_options={"polling_interval": 0.05})
    with pytest.raises(TypeError, match="polling_interval"):
        connection.SimpleQueue("probe").put({"probe": 1})


def test_embedded_urls_select_the_prompt_transport_and_others_are_left_alone():
    assert prompt_broker_url("sqla+sqlite:////data/broker.sqlite") == "faceage-sqla+sqlite:////data/broker.sqlite"
    assert prompt_broker_url("sqlalchemy+postgresql://db/x") == "faceage-sqla+postgresql://db/x"
    assert prompt_broker_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_a_waiting_consumer_gets_a_message_within_a_few_polls(tmp_path):
    url = prompt_broker_url(f"sqla+sqlite:///{tmp_path}/broker.sqlite")
    with Connection(url) as consumer_side, Connection(url) as producer_side:
        assert consumer_side.transport.polling_interval == POLLING_INTERVAL_S
        queue = consumer_side.SimpleQueue("jobs")
        queue.put({"warm": True})
        queue.get(timeout=5).ack()  # tables created, connections open
        received = {}

        def consume():
            message = queue.get(timeout=10)
            received["at"] = time.monotonic()
            message.ack()

        thread = threading.Thread(target=consume)
        thread.start()
        time.sleep(0.3)  # the consumer is polling an empty queue
        sent_at = time.monotonic()
        producer_side.SimpleQueue("jobs").put({"job": 1})
        thread.join(timeout=15)
        # kombu's default (a poll a second) would wait 0.5 s on average, up to 1 s
        assert received["at"] - sent_at < 0.4


def _rows(url: str) -> list[tuple[bool, object]]:
    import sqlalchemy as sa

    engine = sa.create_engine(url.split("+", 1)[1])
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT visible, timestamp FROM kombu_message ORDER BY id")).all()
    engine.dispose()
    return [(bool(visible), timestamp) for visible, timestamp in rows]


def test_consumed_messages_are_deleted_once_old_and_waiting_ones_are_kept(tmp_path):
    from datetime import datetime, timedelta

    from worker.broker import delete_consumed_messages

    url = f"sqla+sqlite:///{tmp_path}/broker.sqlite"
    assert delete_consumed_messages(url, timedelta(minutes=5)) == 0  # no tables yet: nothing to do
    with Connection(prompt_broker_url(url)) as connection:
        queue = connection.SimpleQueue("jobs")
        for n in range(5):
            queue.put({"job": n})
        for _ in range(3):
            queue.get(timeout=5).ack()
    assert [visible for visible, _at in _rows(url)] == [False, False, False, True, True]

    assert delete_consumed_messages(url, timedelta(minutes=5)) == 0  # handed out just now: kept for a while
    later = datetime.now() + timedelta(minutes=6)
    assert delete_consumed_messages(prompt_broker_url(url), timedelta(minutes=5), now=later) == 3
    assert [visible for visible, _at in _rows(url)] == [True, True]  # the waiting ones stay, to be handed out

    with Connection(prompt_broker_url(url)) as connection:
        assert {connection.SimpleQueue("jobs").get(timeout=5).payload["job"] for _ in range(2)} == {3, 4}


def test_other_brokers_are_left_alone():
    from datetime import timedelta

    from worker.broker import delete_consumed_messages

    assert delete_consumed_messages("redis://127.0.0.1:1/0", timedelta(0)) == 0


def test_beat_deletes_consumed_messages_within_minutes():
    from worker.celery_app import celery_app

    schedule = {entry["task"]: entry["schedule"] for entry in celery_app.conf.beat_schedule.values()}
    assert schedule["worker.tasks.delete_consumed_messages"] <= 600
