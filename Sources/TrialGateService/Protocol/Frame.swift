/// One framed request: a line without its newline (nor a trailing `\r`), or the news that a line was too long.
public enum Frame: Sendable, Equatable {
    case line([UInt8])
    /// A line longer than the limit was dropped; the connection goes on with the next line.
    case tooLong(limit: Int)

    /// A line of an `exec` batch or a socket, without its `\n` and any trailing `\r`.
    public static func line<S: Sequence<UInt8>>(framing bytes: S) -> Frame {
        var line = Array(bytes)
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        return .line(line)
    }

    /// The one definition of a blank line: only spaces and tabs (or nothing). It gets no reply, on the socket and in
    /// `exec` alike, and is no strike against a connection that has not authenticated.
    public var isBlank: Bool {
        guard case .line(let bytes) = self else { return false }
        return bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 }
    }
}
