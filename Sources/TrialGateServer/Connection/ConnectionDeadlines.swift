import NIOCore

/// When a connection has overstayed: the authentication deadline, and the idle timeout.
///
/// Only complete requests (and replies the client took) count as activity, never bytes alone, so a client that
/// trickles a byte a second without finishing a line is as idle as a silent one. Time is an argument.
struct ConnectionDeadlines {
    enum Expiry: Equatable {
        case authentication
        case idle
    }

    enum Verdict: Equatable {
        /// Nothing is due before this instant.
        case wait(until: NIODeadline)
        case expired(Expiry)
    }

    let idleTimeout: TimeAmount
    private(set) var authenticateBy: NIODeadline?
    private(set) var lastActivity: NIODeadline

    init(opened: NIODeadline, authTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.idleTimeout = idleTimeout
        authenticateBy = opened + authTimeout
        lastActivity = opened
    }

    /// A request was completed or a reply taken.
    mutating func active(at now: NIODeadline) { lastActivity = now }

    mutating func authenticated() { authenticateBy = nil }

    /// What is due at `now`. An exempt connection (a request in progress, a subscription) is never idle, but still
    /// has to authenticate in time.
    func check(at now: NIODeadline, idleExempt: Bool) -> Verdict {
        if let by = authenticateBy, now >= by { return .expired(.authentication) }
        let idleBy = idleExempt ? now + idleTimeout : lastActivity + idleTimeout
        if now >= idleBy { return .expired(.idle) }
        return .wait(until: authenticateBy.map { min($0, idleBy) } ?? idleBy)
    }
}
