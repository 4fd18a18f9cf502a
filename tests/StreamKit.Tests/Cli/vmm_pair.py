#!/usr/bin/env python3
"""Two stand-in VMMs (source and destination) in one separate process, driving BOTH control sockets
of a `streamkit send --control` and a `streamkit receive --control` child process (ControlSocketTests).

Speaks spec/control-protocol.md as a non-.NET VMM would: JSON lines, data_fds passed with SCM_RIGHTS
on the first byte of their line. Pipes stand in for data_fds: the source VMM writes the "device
state" into the write end of the pipe whose read end it handed to `streamkit send`; the destination
VMM hands `streamkit receive` the write end of another pipe and reads what arrives from its read end.

usage: vmm_pair.py SOURCE_SOCKET DEST_SOCKET PRECOPY_BYTES STOPCOPY_BYTES [--discard]
       vmm_pair.py --cancel SOURCE_SOCKET DEST_SOCKET
       vmm_pair.py --refused SOURCE_SOCKET
  --refused: nobody listens at the source's destination: start fails (operation-failed) and may be
             retried; then cancel ends the migration (failed event, reason Cancelled).
  Both sockets first get bad requests (before and after hello) that must be answered with the
  spec's error codes, a refused fd must be closed by StreamKit, and the connection must go on.
  Device 1 has PRE_COPY (fd in add-device, same fd continues in STOP_COPY); device 2 is
  STOP_COPY-only (no fd in add-device; its STOP_COPY fd is attached to stop-copy).
  --cancel: pre-copy bytes are flowing when the source VMM sends cancel: both VMMs must get a
            failed event, and StreamKit must close its copies of the fds (the pipes reach EOF).
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

    def wait_event_raw(self, name):
        """As wait_event, but a failed event does not end the driver (it may be the awaited one)."""
        while True:
            for event in self.events:
                if event["event"] == name:
                    return event
            self.pump_raw()

    def names(self):
        return [e["event"] for e in self.events]

    def expect_error(self, raw, code, fds=(), reply_id="auto"):
        """Sends one raw line (maybe with fds) and returns the error reply, which must carry CODE."""
        if fds:
            sent = socket.send_fds(self.sock, [raw], list(fds))
            self.sock.sendall(raw[sent:])
        else:
            self.sock.sendall(raw)
        if reply_id == "auto":
            try:
                reply_id = json.loads(raw).get("id")
            except (ValueError, AttributeError):
                reply_id = None
        while reply_id not in self.replies:
            self.pump()
        reply = self.replies.pop(reply_id)
        if reply["ok"] or reply["error"]["code"] != code:
            fail(f"{self.name}: {raw!r} got {reply}, expected error {code}")
        return reply["error"]["code"]


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


def eof_within(fd, seconds):
    """True when the pipe's read end FD reaches EOF (every write end closed) within SECONDS."""
    os.set_blocking(fd, False)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if os.read(fd, 4096) == b"":
                return True
        except BlockingIOError:
            time.sleep(0.01)
    return False


def bad_requests(ctl, role):
    """Bad requests before and after hello, as spec/control-protocol.md section 9 lists them.
    Returns the error codes seen; the connection must stay usable afterwards."""
    codes = [ctl.expect_error(b'{"id":1,"op":"status"}\n', "hello-required")]
    hello = ctl.request("hello", version=1, client="vmm_pair.py")
    if hello["role"] != role:
        fail(f"the {ctl.name} socket is a {hello['role']}")
    codes.append(ctl.expect_error(b'{"id":900,"op":"add-device","device":1,\n', "bad-json"))
    codes.append(ctl.expect_error(b'["add-device"]\n', "bad-json"))
    codes.append(ctl.expect_error(b'\xff\xfe not utf-8\n', "bad-json"))
    codes.append(ctl.expect_error(b'{"id":901,"op":"migrate"}\n', "unknown-op"))
    other = b'{"id":902,"op":"resume-fd","device":1,"epoch":1}\n' if role == "source" else b'{"id":902,"op":"discard","device":1}\n'
    codes.append(ctl.expect_error(other, "wrong-role"))
    codes.append(ctl.expect_error(b'{"id":903,"op":"add-device","device":"1","name":"a","migration_flags":1}\n', "bad-type"))
    codes.append(ctl.expect_error(b'{"id":904,"op":"add-device","device":70000,"name":"a","migration_flags":1}\n', "bad-value"))
    if role == "source":
        codes.append(ctl.expect_error(b'{"id":905,"op":"add-device","device":1,"migration_flags":1}\n', "missing-field"))
    codes.append(ctl.expect_error(b'{"id":906,"op":"stop-copy","device":3}\n' if role == "source"
                                  else b'{"id":906,"op":"commit-result","device":3,"epoch":0,"ok":true}\n', "unknown-device"))
    codes.append(ctl.expect_error(b'{"id":907,"op":"switchover"}\n' if role == "source" else b'{"id":907,"op":"start"}\n', "bad-state"))
    # An fd on an op that takes none is refused and closed: the pipe's read end then reaches EOF.
    probe_read, probe_write = os.pipe()
    codes.append(ctl.expect_error(b'{"id":908,"op":"status"}\n', "unexpected-fd", fds=[probe_write]))
    os.close(probe_write)
    if not eof_within(probe_read, 10):
        fail(f"{ctl.name}: StreamKit kept the fd attached to a refused request")
    os.close(probe_read)
    if ctl.request("status")["phase"] != "setup":
        fail(f"{ctl.name}: not in setup after the bad requests")
    return codes


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


def cancel(src_path, dst_path):
    """Cancel during pre-copy: both VMMs get failed, StreamKit closes its copies of every fd."""
    src = Control(src_path, "source")
    dst = Control(dst_path, "destination")
    src.request("hello", version=1, client="vmm_pair.py")
    dst.request("hello", version=1, client="vmm_pair.py")
    dst_read, dst_write = os.pipe()
    dst.request("add-device", fds=[dst_write], device=1, name="py-dev", migration_flags=5)
    os.close(dst_write)
    dst.request("start")
    src_read, src_write = os.pipe()
    os.set_blocking(src_read, False)
    src.request("add-device", fds=[src_read], device=1, name="py-dev", migration_flags=5,
                initial_bytes=1 << 20, dirty_bytes=0, precopy_ioctl=False)
    os.close(src_read)
    src.request("start")
    write_all(src_write, pattern(1, 30_000))  # less than a pipe buffer: never blocks
    while src.request("status")["devices"][0]["precopy_bytes"] < 30_000:
        time.sleep(0.01)
    cancel_id = src.send("cancel", reason="operator cancelled")
    src_failed = src.wait_event_raw("failed")
    while cancel_id not in src.replies:
        src.pump_raw()
    if not src.replies[cancel_id]["ok"]:
        fail(f"cancel refused: {src.replies[cancel_id]}")
    dst_failed = dst.wait_event_raw("failed")
    source_status, destination_status = src.request("status"), dst.request("status")
    cancelled_at = time.monotonic()
    # StreamKit closed its copy of the source's PRE_COPY fd (a write now fails EPIPE) and of the
    # destination's RESUMING fd (the read end reaches EOF once the bytes written so far are read).
    deadline = time.monotonic() + 10
    src_closed = False
    while not src_closed and time.monotonic() < deadline:
        try:
            os.write(src_write, b"x")
            time.sleep(0.01)
        except BrokenPipeError:
            src_closed = True
    dst_bytes = bytearray()
    os.set_blocking(dst_read, False)
    dst_closed = False
    while not dst_closed and time.monotonic() < deadline:
        try:
            chunk = os.read(dst_read, 65536)
            if chunk == b"":
                dst_closed = True
            dst_bytes += chunk
        except BlockingIOError:
            time.sleep(0.01)
    print(json.dumps({
        "source_failed": src_failed,
        "destination_failed": dst_failed,
        "source_status": source_status,
        "destination_status": destination_status,
        "source_fd_closed": src_closed,
        "destination_fd_closed": dst_closed,
        "fds_closed_after_s": round(time.monotonic() - cancelled_at, 2),
        "destination_bytes_are_prefix": pattern(1, 30_000).startswith(bytes(dst_bytes)),
    }), flush=True)


def main():
    if sys.argv[1] == "--refused":
        refused(sys.argv[2])
        return
    if sys.argv[1] == "--cancel":
        cancel(sys.argv[2], sys.argv[3])
        return
    src_path, dst_path = sys.argv[1], sys.argv[2]
    pre, stop = int(sys.argv[3]), int(sys.argv[4])
    discard = "--discard" in sys.argv[5:]

    src = Control(src_path, "source")
    dst = Control(dst_path, "destination")
    error_codes = {"source": bad_requests(src, "source"), "destination": bad_requests(dst, "destination")}

    # Destination VMM: RUNNING -> STOP -> RESUMING, hand over the data_fd (a pipe's write end).
    dst_read, dst_write = os.pipe()
    readers = [PipeReader(dst_read)]
    readers[0].start()
    dst.request("add-device", fds=[dst_write], device=1, name="py-dev", migration_flags=5)
    os.close(dst_write)  # StreamKit holds its own copy: EOF comes when it closes it
    dst2_read, dst2_write = os.pipe()
    reader2 = PipeReader(dst2_read)
    reader2.start()
    dst.request("add-device", fds=[dst2_write], device=2, name="py-stop-only", migration_flags=3)
    os.close(dst2_write)
    dst.request("start")
    error_codes["destination"].append(dst.expect_error(b'{"id":950,"op":"start"}\n', "bad-state"))

    # Source VMM: RUNNING -> PRE_COPY, hand over the PRE_COPY data_fd (a pipe's non-blocking read end).
    src_read, src_write = os.pipe()
    os.set_blocking(src_read, False)  # a PRE_COPY data_fd never blocks: EAGAIN stands in for ENOMSG
    src.request("add-device", fds=[src_read], device=1, name="py-dev", driver="pydrv", migration_flags=7,
                stop_copy_estimate=stop, initial_bytes=pre, dirty_bytes=0)
    os.close(src_read)
    # Device 2 has no PRE_COPY: no fd now; an fd here would be refused.
    stray_read, stray_write = os.pipe()
    error_codes["source"].append(src.expect_error(
        b'{"id":951,"op":"add-device","device":2,"name":"py-stop-only","migration_flags":3}\n', "unexpected-fd", fds=[stray_read]))
    os.close(stray_read)
    os.close(stray_write)
    src.request("add-device", device=2, name="py-stop-only", migration_flags=3)
    src.request("start")
    error_codes["source"].append(src.expect_error(b'{"id":952,"op":"discard","device":1}\n', "fd-missing"))

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
    # The destination absorbed the initial bytes of every device's current epoch: the moment to switch over.
    while not any(e["event"] == "switchover-ready" for e in src.events):
        src.pump()
        dst.pump()
    switchover_id = src.send("switchover")
    # The destination acknowledges only once it wrote the initial bytes: keep its events flowing.
    while switchover_id not in src.replies:
        src.pump()
        dst.pump()
    switchover = src.reply(switchover_id, "switchover")

    # Stop vCPUs; PRE_COPY -> STOP_COPY keeps the same fd.
    src.request("stop-copy", device=1)
    error_codes["source"].append(src.expect_error(b'{"id":953,"op":"stop-copy","device":1}\n', "bad-state"))
    tail = pattern(3, stop)
    write_all(src_write, tail)
    os.close(src_write)  # the STOP_COPY stream's end: a 0-byte read
    # Device 2: STOP -> STOP_COPY hands out its (only) data_fd, attached to stop-copy.
    error_codes["source"].append(src.expect_error(b'{"id":954,"op":"stop-copy","device":2}\n', "fd-missing"))
    stop2_read, stop2_write = os.pipe()
    src.request("stop-copy", fds=[stop2_read], device=2, stop_copy_estimate=stop // 2)
    os.close(stop2_read)
    tail2 = pattern(4, stop // 2)
    write_all(stop2_write, tail2)
    os.close(stop2_write)
    done = src.wait_event("device-done", device=1)
    done2 = src.wait_event("device-done", device=2)

    complete = dst.wait_event("device-complete", device=1)
    dst.request("commit-result", device=1, epoch=complete["epoch"], ok=True)  # our RESUMING -> STOP worked
    complete2 = dst.wait_event("device-complete", device=2)
    dst.request("commit-result", device=2, epoch=complete2["epoch"], ok=True)
    dst.wait_event("completed")
    src.wait_event("completed")
    dst_status = dst.request("status")

    for reader in readers + [reader2]:
        reader.join(20)
        if reader.is_alive():
            fail("a destination pipe never reached EOF (StreamKit kept its copy of the fd)")
    expected = final_pre + tail
    final = bytes(readers[-1].data)
    print(json.dumps({
        "error_codes": error_codes,
        "switchover": switchover,
        "device_done": done,
        "device_done_2": done2,
        "device_complete": complete,
        "device_complete_2": complete2,
        "dst_status": dst_status,
        "source_events": sorted(set(src.names())),
        "destination_events": sorted(set(dst.names())),
        "expected_len": len(expected),
        "received_len": len(final),
        "equal": final == expected,
        "expected_sha256": hashlib.sha256(expected).hexdigest(),
        "received_sha256": hashlib.sha256(final).hexdigest(),
        "device2_equal": bytes(reader2.data) == tail2,
        "device2_received_len": len(reader2.data),
        "first_fd_bytes": len(readers[0].data) if discard else None,
        "first_fd_is_epoch0_prefix": epoch0.startswith(bytes(readers[0].data)) if discard else None,
    }), flush=True)


if __name__ == "__main__":
    main()
