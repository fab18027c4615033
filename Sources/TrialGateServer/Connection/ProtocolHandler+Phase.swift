import NIOCore
import TrialGateStore

extension ProtocolHandler {
    /// A connection's life, one state at a time. It starts serving; a `subscribe` turns it into a stream; any state
    /// ends in closing (a refusal, a deadline, the client's half-close once answered, the server's shutdown).
    enum Phase {
        /// Reading requests and answering them in order; `inFlight` while one runs on a worker (the next waits).
        case serving(inFlight: Bool)
        /// The server is shutting down: the request in flight is answered with its result, every other request read is
        /// refused `shutting_down`, then the connection closes.
        case draining(inFlight: Bool)
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

        /// Requests are read and answered (or refused, when draining).
        var readsRequests: Bool {
            switch self {
            case .serving, .draining: true
            case .streaming, .closing: false
            }
        }

        var isDraining: Bool {
            if case .draining = self { return true }
            return false
        }

        /// A request runs on a worker; the next waits for its answer.
        var inFlight: Bool {
            switch self {
            case .serving(let inFlight), .draining(let inFlight): inFlight
            case .streaming, .closing: false
            }
        }

        /// The phase once the request in flight (if any) is answered.
        var answered: Phase {
            switch self {
            case .serving: .serving(inFlight: false)
            case .draining: .draining(inFlight: false)
            case .streaming, .closing: self
            }
        }

        /// The subscription this connection streams or streamed, if any.
        var subscription: Subscription? {
            switch self {
            case .streaming(let s): s
            case .closing(_, let s): s
            case .serving, .draining: nil
            }
        }
    }

    /// Where a connection stands with the server's connection table (`ServerState`).
    enum Admission {
        /// Not counted: not yet active, refused at the limit, or evicted to make room.
        case outside
        /// Counted among the connections that have not logged in, under their caps and deadline.
        case unauthenticated
        /// Logged in once: it holds a logged-in slot, and the authentication deadline is met.
        case authenticated

        var isCounted: Bool {
            if case .outside = self { return false }
            return true
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
        var quietSince: NIODeadline
        /// A read of the next events runs on the thread pool.
        var pumping = false
        /// The connection ended during that read: close the store when it finishes.
        var closeWhenRead = false

        init(after last: Int64, at now: NIODeadline) {
            self.last = last
            quietSince = now
        }

        func closeStore() {
            store?.close()
            store = nil
        }
    }
}
