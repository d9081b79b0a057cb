"""A gRPC call written frame by frame over a plain socket (HTTP/2 without TLS), for requests no
gRPC library will send: header values that are not UTF-8, repeated headers, any bytes.

Only what a test needs: one call on stream 1; HPACK literals without indexing, no Huffman. The
answer is read as frames and never decoded beyond their types."""

import socket
import struct

PREFACE = b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
DATA, HEADERS, SETTINGS, RST_STREAM, GOAWAY = 0, 1, 4, 3, 7
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1


def _integer(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out, value = [first | limit], value - limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    return bytes(out + [value])


def _literal(name, value):
    """A header field: literal without indexing, a new name, neither string Huffman-coded."""
    return b'\x00' + _integer(len(name), 7) + name + _integer(len(value), 7) + value


def frame(kind, flags, stream, payload=b''):
    return struct.pack('>I', len(payload))[1:] + bytes([kind, flags]) + struct.pack('>I', stream) + payload


def call(target, method, message, headers=()):
    """Send one unary gRPC call: `method` '/pkg.Service/Method', `message` the request's bytes,
    `headers` extra (name bytes, value bytes) pairs. -> the frame types the server answered with
    (until it ended the stream or the connection, or 5 s passed)."""
    host, port = target.rsplit(':', 1)
    fields = [
        (b':method', b'POST'),
        (b':scheme', b'http'),
        (b':path', method.encode()),
        (b':authority', target.encode()),
        (b'content-type', b'application/grpc'),
        (b'te', b'trailers'),
        *headers,
    ]
    block = b''.join(_literal(n, v) for n, v in fields)
    body = b'\x00' + struct.pack('>I', len(message)) + message
    kinds = []
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(
            PREFACE
            + frame(SETTINGS, 0, 0)
            + frame(HEADERS, END_HEADERS, 1, block)
            + frame(DATA, END_STREAM, 1, body)
        )
        buffer = b''
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                while len(buffer) >= 9:
                    length = int.from_bytes(buffer[:3], 'big')
                    if len(buffer) < 9 + length:
                        break
                    kind, flags = buffer[3], buffer[4]
                    stream = int.from_bytes(buffer[5:9], 'big') & 0x7FFFFFFF
                    buffer = buffer[9 + length :]
                    kinds.append(kind)
                    if kind == SETTINGS and not flags & ACK:
                        s.sendall(frame(SETTINGS, ACK, 0))
                    if stream == 1 and (kind == RST_STREAM or (kind == HEADERS and flags & END_STREAM)):
                        return kinds
                    if kind == GOAWAY:
                        return kinds
        except TimeoutError:
            pass
    return kinds
