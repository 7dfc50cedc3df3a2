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
