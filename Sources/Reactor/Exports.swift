// The byte appenders are part of what every wire writer on the reactor uses (response heads,
// upstream requests, RESP), so importing Reactor brings them along.
@_exported import Bytes
