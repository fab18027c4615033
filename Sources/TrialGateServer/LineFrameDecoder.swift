import NIOCore

/// One framed request: a line without its newline, or the news that a line was too long.
public enum Frame: Sendable, Equatable {
    case line([UInt8])
    /// A line longer than the limit was dropped; the connection goes on with the next line.
    case tooLong(limit: Int)
}

/// Splits the byte stream at `\n` (a trailing `\r` is dropped) and bounds each line.
///
/// A line over `maxLength` is not buffered: its bytes are discarded up to the next newline and a single
/// `.tooLong` frame takes its place, so one client cannot make the server hold megabytes.
final class LineFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = Frame

    private let maxLength: Int
    private var discarding = false

    init(maxLength: Int) { self.maxLength = maxLength }

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        if let newline = view.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - view.startIndex
            if discarding {
                buffer.moveReaderIndex(forwardBy: length + 1)
                discarding = false
                return .continue
            }
            if length > maxLength {
                buffer.moveReaderIndex(forwardBy: length + 1)
                context.fireChannelRead(wrapInboundOut(.tooLong(limit: maxLength)))
                return .continue
            }
            var line = Array(view[view.startIndex..<newline])
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            buffer.moveReaderIndex(forwardBy: length + 1)
            context.fireChannelRead(wrapInboundOut(.line(line)))
            return .continue
        }
        if view.count > maxLength {
            // No newline yet and already too long: drop what we have and skip to the next newline.
            buffer.moveReaderIndex(forwardBy: view.count)
            if !discarding {
                discarding = true
                context.fireChannelRead(wrapInboundOut(.tooLong(limit: maxLength)))
            }
        }
        return .needMoreData
    }

    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A last line without a newline still counts.
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0, !discarding {
            var line = Array(buffer.readableBytesView)
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            context.fireChannelRead(wrapInboundOut(.line(line)))
        }
        return .needMoreData
    }
}
