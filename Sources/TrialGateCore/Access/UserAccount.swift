/// An account as the log records it: who may use the socket, with which role and sites, the SHA-256 of their bearer
/// token (never the token), and whether it is in force. Every change is a `user.*` event, attributed and
/// time-stamped, so the log shows who could do what at any past moment (21 CFR 11.10(d), (g)).
public struct UserAccount: Sendable, Equatable {
    public enum Status: String, Sendable {
        case active, disabled, removed
    }

    public let name: String
    public let role: Role
    public let sites: [String]
    /// Hex SHA-256 of the token's UTF-8 bytes.
    public internal(set) var tokenSHA256: String
    /// After this instant the account no longer authenticates (nil: no expiry).
    public let expiresAt: UTCTimestamp?
    public internal(set) var status: Status
    /// The `user.added` event.
    public let addedSeq: Int64
    public let addedAt: UTCTimestamp
    /// The newest event that changed the account.
    public internal(set) var changedSeq: Int64

    /// Whether the account may act at `now`.
    public func isInForce(at now: UTCTimestamp) -> Bool {
        status == .active && (expiresAt.map { now < $0 } ?? true)
    }

    /// The principal the account authenticates as.
    public var principal: Principal { Principal(name: name, role: role, sites: sites, tokenSHA256: tokenSHA256) }
}

extension LogState {
    /// Checks a `user.*` event against the accounts so far.
    static func checkUserEvent(_ event: Event, against state: LogState) throws {
        func bad(_ why: String) -> CoreError { CoreError(.invalidField, "event \(event.seq) (\(event.type.rawValue)): \(why)") }
        guard event.candidate == nil, state.trial != nil else {
            throw CoreError(.invalidEvent, "event \(event.seq) (\(event.type.rawValue)): an account change needs an initialised trial and no candidate")
        }
        var r = try ObjectReader(event.payload, context: event.type.rawValue)
        let name = try r.string("name")
        let existing = state.users[name].flatMap { $0.status == .removed ? nil : $0 }
        switch event.type {
        case .userAdded:
            // Names are written as actors: ':' is kept for the `os:` accounts of the command line and refused here.
            try RecordSchema.validateIdentifier(name, what: "user name")
            let roleText = try r.string("role")
            guard let role = Role(rawValue: roleText) else {
                throw bad("role must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(roleText)\"")
            }
            guard let siteValues = try r.value("sites").arrayValue else { throw bad("sites must be a list of site ids") }
            var sites: [String] = []
            for v in siteValues {
                guard let site = v.stringValue else { throw bad("sites must be a list of site ids, got \(CanonicalJSON.string(v))") }
                try RecordSchema.validateIdentifier(site, what: "site")
                sites.append(site)
            }
            if role == .coordinator, sites.isEmpty { throw bad("a coordinator needs at least one site") }
            if role != .coordinator, !sites.isEmpty { throw bad("only coordinators are held to sites; a \(role.rawValue) has none") }
            try checkTokenDigest(try r.string("token_sha256"), in: state, bad)
            if let expiry = try r.optionalString("expires_at"), UTCTimestamp(expiry) == nil {
                throw bad("expires_at must be a UTC time like 2026-12-31T00:00:00.000Z, got \"\(expiry)\"")
            }
            if existing != nil { throw bad("an account named \(name) already exists") }
        case .userDisabled, .userEnabled, .userRemoved:
            let reason = try r.string("reason")
            if reason.allSatisfy(\.isWhitespace) { throw bad("a reason is required") }
            guard let account = existing else { throw bad("there is no account named \(name)") }
            if event.type == .userDisabled, account.status != .active { throw bad("\(name) is already disabled") }
            if event.type == .userEnabled, account.status != .disabled { throw bad("\(name) is not disabled") }
        case .userTokenRotated:
            try checkTokenDigest(try r.string("token_sha256"), in: state, bad)
            guard existing != nil else { throw bad("there is no account named \(name)") }
        default:
            throw CoreError(.invalidEvent, "event \(event.seq): not an account event")
        }
        try r.finish()
    }

    private static func checkTokenDigest(_ digest: String, in state: LogState, _ bad: (String) -> CoreError) throws {
        guard digest.utf8.count == 64, digest.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw bad("token_sha256 must be 64 lowercase hex digits")
        }
        // Digests are in every export: one seen there must not let anyone in under another name, or come back.
        if state.tokenDigests.contains(digest) { throw bad("token_sha256 was already used by an account of this log; make a new token") }
    }

    /// Folds a checked `user.*` event.
    mutating func applyUserEvent(_ event: Event) {
        let p = event.payload
        let name = p["name"]!.stringValue!
        switch event.type {
        case .userAdded:
            users[name] = UserAccount(
                name: name, role: Role(rawValue: p["role"]!.stringValue!)!, sites: (p["sites"]?.arrayValue ?? []).compactMap(\.stringValue),
                tokenSHA256: p["token_sha256"]!.stringValue!, expiresAt: p["expires_at"]?.stringValue.flatMap(UTCTimestamp.init),
                status: .active, addedSeq: event.seq, addedAt: event.timestamp, changedSeq: event.seq)
        case .userDisabled: users[name]?.status = .disabled
        case .userEnabled: users[name]?.status = .active
        case .userRemoved: users[name]?.status = .removed
        case .userTokenRotated: users[name]?.tokenSHA256 = p["token_sha256"]!.stringValue!
        default: return
        }
        if let digest = p["token_sha256"]?.stringValue { tokenDigests.insert(digest) }
        users[name]?.changedSeq = event.seq
    }
}
