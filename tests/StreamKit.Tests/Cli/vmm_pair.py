#!/usr/bin/env python3
"""Two stand-in VMMs (source and destination) in one separate process, driving BOTH control sockets
of a `streamkit send --control` and a `streamkit receive --control` child process (ControlSocketTests).

Speaks spec/control-protocol.md as a non-.NET VMM would: JSON lines, data_fds passed with SCM_RIGHTS
on the first byte of their line. Pipes stand in for data_fds: the source VMM writes the "device
state" into the write end of the pipe whose read end it handed to `streamkit send`; the destination
VMM hands `streamkit receive` the write end of another pipe and reads what arrives from its read end.

usage: vmm_pair.py SOURCE_SOCKET DEST_SOCKET PRECOPY_BYTES STOPCOPY_BYTES [--discard]
       vmm_pair.py --refused SOURCE_SOCKET
  --refused: nobody listens at the source's destination: start fails (operation-failed) and may be
             retried; then cancel ends the migration (failed event, reason Cancelled).
  --discard: after the first pre-copy bytes went out, the source VMM "resets" the device and hands
             over a new PRE_COPY fd (discard); the destination VMM answers resume-fd-needed with a
             new RESUMING fd. Only the new epoch's bytes may reach the destination's new fd.
Prints one JSON summary line on success; exits non-zero with a message otherwise.
"""
import hashlib
import json
import os
import random
import socket
import sys
import threading
import time

DEADLINE = time.monotonic() + 60


def pattern(seed, count):
    return random.Random(seed).randbytes(count)


class Control:
    """One control connection; replies are matched by id, events are queued."""

    def __init__(self, path, name):
        self.name = name
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.settimeout(0.02)
        self.buffer = b""
        self.next_id = 0
        self.events = []
        self.replies = {}
        self.lock = threading.Lock()

    def send(self, op, fds=(), **fields):
        self.next_id += 1
        line = (json.dumps({"id": self.next_id, "op": op, **fields}) + "\n").encode()
        if fds:
            sent = socket.send_fds(self.sock, [line], list(fds))  # fds ride with the line's first byte
            self.sock.sendall(line[sent:])
        else:
            self.sock.sendall(line)
        return self.next_id

    def request(self, op, fds=(), **fields):
        request_id = self.send(op, fds, **fields)
        return self.reply(request_id, op)

    def reply(self, request_id, op):
        while request_id not in self.replies:
            self.pump()
        message = self.replies.pop(request_id)
        if not message["ok"]:
            fail(f"{self.name} {op} failed: {message['error']}")
        return message

    def pump(self):
        if time.monotonic() > DEADLINE:
            fail(f"{self.name}: timed out; events so far: {[e['event'] for e in self.events]}")
        while b"\n" not in self.buffer:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return
            if not chunk:
                fail(f"{self.name}: control socket closed; events: {[e['event'] for e in self.events]}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        message = json.loads(line)
        if "event" in message:
            if message["event"] == "failed":
                fail(f"{self.name}: migration failed: {message}")
            self.events.append(message)
        else:
            self.replies[message["id"]] = message

    def pump_raw(self):
        """As pump, but a failed event is queued rather than fatal."""
        if time.monotonic() > DEADLINE:
            fail(f"{self.name}: timed out; events so far: {self.names()}")
        while b"\n" not in self.buffer:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return
            if not chunk:
                fail(f"{self.name}: control socket closed; events: {self.names()}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        message = json.loads(line)
        if "event" in message:
            self.events.append(message)
        else:
            self.replies[message["id"]] = message

    def wait_event(self, name, **match):
        while True:
            for i, event in enumerate(self.events):
                if event["event"] == name and all(event.get(k) == v for k, v in match.items()):
                    event["_seen"] = True
                    return event
            self.pump()

    def names(self):
        return [e["event"] for e in self.events]


class PipeReader(threading.Thread):
    """Reads a pipe to EOF: the destination device's "written state"."""

    def __init__(self, fd):
        super().__init__(daemon=True)
        self.fd = fd
        self.data = bytearray()

    def run(self):
        while True:
            chunk = os.read(self.fd, 65536)
            if not chunk:
                break
            self.data += chunk
        os.close(self.fd)


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def fail(message):
    print(message, file=sys.stderr, flush=True)
    os._exit(1)


def refused(path):
    src = Control(path, "source")
    src.request("hello", version=1, client="vmm_pair.py")
    src.request("add-device", device=1, name="py-dev", migration_flags=1)  # stop-copy only: no fd yet
    errors = []
    for attempt in range(2):  # a failed start starts nothing: the VMM may send it again
        request_id = src.send("start")
        while request_id not in src.replies:
            src.pump()
        reply = src.replies.pop(request_id)
        if reply["ok"]:
            fail(f"start {attempt} succeeded with nobody listening")
        errors.append(reply["error"])
    cancel_id = src.send("cancel", reason="the destination host is down")
    failed = None
    while failed is None or cancel_id not in src.replies:  # the failed event may come before or after the reply
        failed = next((e for e in src.events if e["event"] == "failed"), None)
        if failed is None or cancel_id not in src.replies:
            src.pump_raw()
    if not src.replies[cancel_id]["ok"]:
        fail(f"cancel failed: {src.replies[cancel_id]}")
    print(json.dumps({"start_errors": errors, "failed": failed}), flush=True)


def main():
    if sys.argv[1] == "--refused":
        refused(sys.argv[2])
        return
    src_path, dst_path = sys.argv[1], sys.argv[2]
    pre, stop = int(sys.argv[3]), int(sys.argv[4])
    discard = "--discard" in sys.argv[5:]

    src = Control(src_path, "source")
    dst = Control(dst_path, "destination")
    if src.request("hello", version=1, client="vmm_pair.py")["role"] != "source":
        fail("the source socket is not a source")
    if dst.request("hello", version=1, client="vmm_pair.py")["role"] != "destination":
        fail("the destination socket is not a destination")

    # Destination VMM: RUNNING -> STOP -> RESUMING, hand over the data_fd (a pipe's write end).
    dst_read, dst_write = os.pipe()
    readers = [PipeReader(dst_read)]
    readers[0].start()
    dst.request("add-device", fds=[dst_write], device=1, name="py-dev", migration_flags=5)
    os.close(dst_write)  # StreamKit holds its own copy: EOF comes when it closes it
    dst.request("start")

    # Source VMM: RUNNING -> PRE_COPY, hand over the PRE_COPY data_fd (a pipe's non-blocking read end).
    src_read, src_write = os.pipe()
    os.set_blocking(src_read, False)  # a PRE_COPY data_fd never blocks: EAGAIN stands in for ENOMSG
    src.request("add-device", fds=[src_read], device=1, name="py-dev", driver="pydrv", migration_flags=5,
                stop_copy_estimate=stop, initial_bytes=pre, dirty_bytes=0)
    os.close(src_read)
    src.request("start")

    epoch0 = pattern(1, pre)
    write_all(src_write, epoch0)
    final_pre = epoch0
    base = 0  # pre-copy bytes StreamKit read from earlier epochs' fds
    if discard:
        # Wait until StreamKit has read (and sent) some epoch-0 bytes, then "reset" the device.
        while True:
            status = src.request("status")
            if status["devices"][0]["precopy_bytes"] > 0:
                break
            time.sleep(0.01)
        os.close(src_write)
        new_read, src_write = os.pipe()
        os.set_blocking(new_read, False)
        final_pre = pattern(2, pre)
        src.request("discard", fds=[new_read], device=1, initial_bytes=pre, dirty_bytes=0)
        os.close(new_read)
        base = src.request("status")["devices"][0]["precopy_bytes"]  # the new fd has nothing to read yet
        # Destination: StreamKit closed its copy of the old fd and wants a fresh RESUMING fd.
        needed = dst.wait_event("resume-fd-needed", device=1)
        new_dst_read, new_dst_write = os.pipe()
        readers.append(PipeReader(new_dst_read))
        readers[-1].start()
        dst.request("resume-fd", fds=[new_dst_write], device=1, epoch=needed["epoch"])
        os.close(new_dst_write)
        write_all(src_write, final_pre)

    # Our own VFIO_MIG_GET_PRECOPY_INFO reading (a pipe has no ioctl): once StreamKit has read the
    # initial bytes, none are pending.
    while src.request("status")["devices"][0]["precopy_bytes"] < base + pre:
        time.sleep(0.01)
    src.request("precopy-info", device=1, initial_bytes=0, dirty_bytes=0)
    switchover_id = src.send("switchover")
    # The destination acknowledges only once it wrote the initial bytes: keep its events flowing.
    while switchover_id not in src.replies:
        src.pump()
        dst.pump()
    switchover = src.reply(switchover_id, "switchover")

    # Stop vCPUs; PRE_COPY -> STOP_COPY keeps the same fd.
    src.request("stop-copy", device=1)
    tail = pattern(3, stop)
    write_all(src_write, tail)
    os.close(src_write)  # the STOP_COPY stream's end: a 0-byte read
    done = src.wait_event("device-done", device=1)

    complete = dst.wait_event("device-complete", device=1)
    dst.request("commit-result", device=1, epoch=complete["epoch"], ok=True)  # our RESUMING -> STOP worked
    dst.wait_event("completed")
    src.wait_event("completed")
    dst_status = dst.request("status")

    for reader in readers:
        reader.join(20)
        if reader.is_alive():
            fail("a destination pipe never reached EOF (StreamKit kept its copy of the fd)")
    expected = final_pre + tail
    final = bytes(readers[-1].data)
    print(json.dumps({
        "switchover": switchover,
        "device_done": done,
        "device_complete": complete,
        "dst_status": dst_status,
        "source_events": sorted(set(src.names())),
        "destination_events": sorted(set(dst.names())),
        "expected_len": len(expected),
        "received_len": len(final),
        "equal": final == expected,
        "expected_sha256": hashlib.sha256(expected).hexdigest(),
        "received_sha256": hashlib.sha256(final).hexdigest(),
        "first_fd_bytes": len(readers[0].data) if discard else None,
        "first_fd_is_epoch0_prefix": epoch0.startswith(bytes(readers[0].data)) if discard else None,
    }), flush=True)


if __name__ == "__main__":
    main()
