import Synchronization

/// What a principal may do. Nobody may update or delete an event, whatever the role.
public enum Role: String, Sendable, CaseIterable {
    /// Registers candidates, records facts, corrects, withdraws and decides, for the sites they work at.
    case coordinator
    /// Reads and audits every site, and follows the log.
    case sponsor
    /// Reads, exports, replays and follows the log.
    case regulator
    /// Publishes policies and manages users.
    case admin
    /// Confirms or overrides decisions and signs attestations, for the sites they work at, each with their own
    /// Ed25519 key and signing code (21 CFR 11.50, 11.100, 11.200).
    case investigator
    /// Reads everything at the sites they monitor, and opens and closes review queries there.
    case monitor

    /// Roles held to the sites their account lists.
    public var isSiteScoped: Bool { self == .coordinator || self == .investigator || self == .monitor }
}

/// An authenticated person: the only name written as `actor` into events they cause.
public struct Principal: Sendable, Equatable {
    public let name: String
    public let role: Role
    /// Sites a site-scoped role (coordinator, investigator, monitor) works at; empty for other roles.
    public let sites: [String]
    /// The SHA-256 of the token a socket session authenticated with (nil on the command line): a session stays
    /// valid only while its account is in force with this token.
    public let tokenSHA256: String?

    /// The socket session this principal acts in (nil on the command line): whether it has signed yet.
    public let session: SigningSession?

    public init(name: String, role: Role, sites: [String], tokenSHA256: String? = nil, session: SigningSession? = nil) {
        self.name = name
        self.role = role
        self.sites = sites
        self.tokenSHA256 = tokenSHA256
        self.session = session
    }

    /// The same principal in a new socket session.
    public func inNewSession() -> Principal { Principal(name: name, role: role, sites: sites, tokenSHA256: tokenSHA256, session: SigningSession()) }

    /// Principals are the same person with the same rights, whichever session they act in.
    public static func == (a: Principal, b: Principal) -> Bool {
        a.name == b.name && a.role == b.role && a.sites == b.sites && a.tokenSHA256 == b.tokenSHA256
    }
}

/// One continuous period of controlled access (a socket session), as 21 CFR 11.200(a)(1) counts signings: the first
/// signing of a session needs every signature component (account name and signing code), later ones the signing
/// code alone.
public final class SigningSession: Sendable {
    /// After this many refused signature components (a wrong signing code, a signature by another key), the session
    /// may not sign again: whoever holds it must log in anew (21 CFR 11.300(d)).
    public static let failureLimit = 3

    private let state = Mutex((signed: false, failures: 0))

    public init() {}

    /// Whether a signing of this session has succeeded.
    public var hasSigned: Bool { state.withLock { $0.signed } }

    /// Whether the session has used up its refused signings.
    public var isLocked: Bool { state.withLock { $0.failures >= Self.failureLimit } }

    /// Records that a signing of this session succeeded.
    public func markSigned() { state.withLock { $0.signed = true } }

    /// Records a refused signature component.
    public func markFailed() { state.withLock { $0.failures += 1 } }
}
