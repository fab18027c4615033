import NIOCore
import TrialGateService

/// Splits a byte stream at `\n` (a trailing `\r` is dropped, by `Frame.line(framing:)`, as `exec` drops it) and
/// bounds each line.
///
/// It takes one frame at a time from the connection's buffer, when the connection is ready for the next request, so
/// bytes wait unparsed rather than as a queue of frames. A line over `maxLength` is not buffered: its bytes are
/// discarded up to the next newline and a single `.tooLong` frame takes its place, so one client cannot make the
/// server hold megabytes.
struct LineFramer {
    let maxLength: Int
    private var discarding = false

    init(maxLength: Int) { self.maxLength = maxLength }

    /// The next frame in `buffer`, consuming its bytes; nil when `buffer` holds no complete line yet.
    mutating func next(_ buffer: inout ByteBuffer) -> Frame? {
        while true {
            let view = buffer.readableBytesView
            guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
                if discarding || view.count > maxLength {
                    // No newline yet and already too long: drop what there is and skip to the next newline.
                    buffer.moveReaderIndex(forwardBy: view.count)
                    if !discarding {
                        discarding = true
                        return .tooLong(limit: maxLength)
                    }
                }
                return nil
            }
            let length = newline - view.startIndex
            buffer.moveReaderIndex(forwardBy: length + 1)
            if discarding {
                discarding = false
                continue
            }
            if length > maxLength { return .tooLong(limit: maxLength) }
            return .line(framing: view[view.startIndex..<newline])
        }
    }

    /// After the client closed its side: the frames still in `buffer`, a last line without a newline included.
    mutating func last(_ buffer: inout ByteBuffer) -> [Frame] {
        var frames: [Frame] = []
        while let frame = next(&buffer) { frames.append(frame) }
        if buffer.readableBytes > 0, !discarding {
            frames.append(.line(framing: buffer.readableBytesView))
        }
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        return frames
    }
}
