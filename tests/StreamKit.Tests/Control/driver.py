#!/usr/bin/env python3
"""A stand-in VMM in a separate process for the control-socket test (ExternalDriverTests).

Speaks spec/control-protocol.md as any non-.NET VMM would: JSON lines over the Unix socket, the
PRE_COPY data_fd passed with SCM_RIGHTS on the add-device line's first byte. A pipe stands in for
the data_fd: the driver writes the "device state" into its write end while StreamKit reads the
passed read end.

usage: driver.py SOCKET_PATH PAYLOAD_BYTES
Prints one JSON summary line on success; exits non-zero with a message otherwise.
"""
import json
import os
import socket
import sys


def pattern(start, count):
    return bytes((i * 7 + 3) % 251 for i in range(start, start + count))


class Control:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.reader = self.sock.makefile("rb")
        self.next_id = 0
        self.events = []

    def request(self, op, fds=(), **fields):
        self.next_id += 1
        line = (json.dumps({"id": self.next_id, "op": op, **fields}) + "\n").encode()
        if fds:
            sent = socket.send_fds(self.sock, [line], list(fds))  # fds ride with the line's first byte
            self.sock.sendall(line[sent:])
        else:
            self.sock.sendall(line)
        while True:
            message = self.read()
            if "event" in message:
                self.events.append(message)
                continue
            if message.get("id") != self.next_id:
                sys.exit(f"unexpected reply to {op}: {message}")
            if not message["ok"]:
                sys.exit(f"{op} failed: {message['error']}")
            return message

    def read(self):
        line = self.reader.readline()
        if not line:
            sys.exit("control socket closed")
        return json.loads(line)

    def wait_event(self, name):
        for i, event in enumerate(self.events):
            if event["event"] == name:
                return self.events.pop(i)
        while True:
            message = self.read()
            if message.get("event") == name:
                return message
            self.events.append(message)


def main():
    path, payload = sys.argv[1], int(sys.argv[2])
    control = Control(path)
    hello = control.request("hello", version=1, client="driver.py")
    if hello["role"] != "source" or hello["version"] != 1:
        sys.exit(f"unexpected hello reply {hello}")

    read_end, write_end = os.pipe()   # non-inheritable (O_CLOEXEC) like a VFIO data_fd
    os.set_blocking(read_end, False)  # a PRE_COPY data_fd never blocks: EAGAIN stands in for ENOMSG
    control.request("add-device", fds=[read_end], device=1, name="python-dev", driver="pydrv",
                    migration_flags=5, stop_copy_estimate=payload - payload // 2)
    os.close(read_end)  # StreamKit holds its own copy now
    control.request("start")

    half = payload // 2
    write_all(write_end, pattern(0, half))          # "pre-copy" bytes
    control.request("stop-copy", device=1)           # PRE_COPY -> STOP_COPY: same fd continues
    write_all(write_end, pattern(half, payload - half))
    os.close(write_end)                              # end of the STOP_COPY stream
    done = control.wait_event("device-done")
    status = control.request("status")
    print(json.dumps({"device_done": done, "status": status["devices"]}))


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


if __name__ == "__main__":
    main()
