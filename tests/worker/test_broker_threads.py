"""The embedded broker's channel used from two threads at once, as a worker does when a pool process dies: the
consumer polls the queue while the pool's result handler puts the lost task back (reject with requeue)."""

import contextlib
import threading
from queue import Empty

from kombu import Connection

from worker.broker import prompt_broker_url


def test_polling_and_putting_back_from_two_threads_share_one_channel_safely(tmp_path):
    url = prompt_broker_url(f"sqla+sqlite:///{tmp_path}/broker.sqlite")
    with Connection(url) as connection:
        channel = connection.default_channel
        channel._new_queue("jobs")
        errors: list[BaseException] = []
        got = []

        def keep(action):
            def run():
                try:
                    action()
                except BaseException as error:  # any error is the failure looked for
                    errors.append(error)

            return threading.Thread(target=run)

        def poll():
            for _ in range(300):
                with contextlib.suppress(Empty):
                    got.append(channel._get("jobs"))

        def put_back():
            for number in range(300):
                channel._put("jobs", {"body": number, "properties": {}})

        threads = [keep(poll), keep(put_back)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors[:3]
        assert len(got) + channel._size("jobs") == 300  # every message once
