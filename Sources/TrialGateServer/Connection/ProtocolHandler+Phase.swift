import NIOCore
import TrialGateStore

extension ProtocolHandler {
    /// A connection's life, one state at a time. It starts serving; a `subscribe` turns it into a stream; any state
    /// ends in closing (a refusal, a deadline, the client's half-close once answered, the server's shutdown).
    enum Phase {
        /// Reading requests and answering them in order; `inFlight` while one runs on a worker (the next waits).
        case serving(inFlight: Bool)
        /// Streaming the log to a subscriber; what the client sends is ignored.
        case streaming(Subscription)
        /// The last replies are going out, then the connection closes. `discardingInput`: what still arrives is read
        /// and dropped, so that the connection ends with a FIN rather than a reset. A subscription's store is kept
        /// until the connection is gone.
        case closing(discardingInput: Bool, subscription: Subscription?)

        var isClosing: Bool {
            if case .closing = self { return true }
            return false
        }

        /// The subscription this connection streams or streamed, if any.
        var subscription: Subscription? {
            switch self {
            case .streaming(let s): s
            case .closing(_, let s): s
            case .serving: nil
            }
        }
    }

    /// What a subscribed connection streams: from where, on which store connection, and whether a read is running.
    /// Used on the connection's event loop only.
    final class Subscription {
        /// The subscriber's own store connection, once opened.
        var store: EventStore?
        /// The newest event sent.
        var last: Int64
        /// When the subscriber was last sent anything (events or a heartbeat).
        var quietSince = NIODeadline.now()
        /// A read of the next events runs on the thread pool.
        var pumping = false
        /// The connection ended during that read: close the store when it finishes.
        var closeWhenRead = false

        init(after last: Int64) { self.last = last }

        func closeStore() {
            store?.close()
            store = nil
        }
    }
}
