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
}

/// An authenticated person: the only name written as `actor` into events they cause.
public struct Principal: Sendable, Equatable {
    public let name: String
    public let role: Role
    /// Sites a coordinator works at; empty for other roles.
    public let sites: [String]
    /// The SHA-256 of the token a socket session authenticated with (nil on the command line): a session stays
    /// valid only while its account is in force with this token.
    public let tokenSHA256: String?

    public init(name: String, role: Role, sites: [String], tokenSHA256: String? = nil) {
        self.name = name
        self.role = role
        self.sites = sites
        self.tokenSHA256 = tokenSHA256
    }
}
