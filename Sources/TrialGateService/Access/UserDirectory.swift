import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateStore

/// Who may use the socket: the accounts the log's `user.*` events leave in force. A view of the log, never a
/// file of its own, so every account change is attributed, time-stamped and kept.
public struct UserDirectory: Sendable, Equatable {
    /// Accounts by name, including disabled and removed ones (for listing and for refusing their sessions).
    public let accounts: [String: UserAccount]
    /// The newest account event folded (0: none), so a server refreshes only when it changes.
    public let version: Int64

    public init(accounts: [String: UserAccount] = [:], version: Int64 = 0) {
        self.accounts = accounts
        self.version = version
    }

    /// The accounts as the log has them now, or as its first `through` events have them.
    public static func load(store: EventStore, through: Int64 = .max) throws -> UserDirectory {
        do {
            let events = try store.events(types: [.trialInitialised] + EventType.accountEvents).filter { $0.seq <= through }
            let state = try LogState(partial: events, head: (0, ""))
            return UserDirectory(accounts: state.users, version: events.last { $0.type != .trialInitialised }?.seq ?? 0)
        } catch {
            throw TrialGateError(error)
        }
    }

    /// The principal a bearer token belongs to, if its account is in force at `now`. Compares digests in
    /// constant time over every account, so the time taken says nothing about which one matched.
    public func authenticate(token: String, now: UTCTimestamp) -> Principal? {
        let digest = Array(Digest.sha256Hex(token).utf8)
        var found: UserAccount?
        for account in accounts.values {
            let stored = Array(account.tokenSHA256.utf8)
            guard stored.count == digest.count else { continue }
            var diff: UInt8 = 0
            for i in 0..<digest.count { diff |= stored[i] ^ digest[i] }
            if diff == 0, account.isInForce(at: now) { found = account }
        }
        return found?.principal.inNewSession()
    }

    /// Whether a session `principal` opened may still act at `now`: its account is in force, with the same role and
    /// sites, and the token it authenticated with was not rotated since.
    public func allows(_ principal: Principal, now: UTCTimestamp) -> Bool {
        guard let account = accounts[principal.name] else { return false }
        return account.isInForce(at: now) && account.principal == principal
    }

    /// The soonest expiry after `now` among accounts in force (when a watcher must look again).
    public func nextExpiry(after now: UTCTimestamp) -> UTCTimestamp? {
        accounts.values.compactMap { $0.status == .active ? $0.expiresAt : nil }.filter { $0 > now }.min()
    }

    /// A new random token (256 bits as 64 hex digits) and its SHA-256, the only form the log keeps.
    public static func newToken() -> (token: String, sha256: String) {
        var random = SystemRandomNumberGenerator()
        let token = Digest.hex((0..<32).map { _ in UInt8.random(in: 0...255, using: &random) })
        return (token, Digest.sha256Hex(token))
    }

    /// An account of a users file written by earlier releases (`{"users":[{name, role, sites, token_sha256, created_at}]}`),
    /// for `users import`.
    public struct LegacyUser: Sendable, Equatable {
        public let name: String
        public let role: String
        public let sites: [String]
        public let tokenSHA256: String
    }

    /// Reads a users file of an earlier release.
    /// - Throws: `users_file` naming the file and the problem.
    public static func legacyFile(path: String) throws -> [LegacyUser] {
        guard let data = FileManager.default.contents(atPath: path) else { throw TrialGateError(.usersFile, "cannot read \(path)") }
        do {
            var r = try ObjectReader(try JSONParser.parse(Array(data)), context: path)
            guard let list = try r.value("users").arrayValue else { throw TrialGateError(.usersFile, "\(path): users must be a list") }
            try r.finish()
            return try list.map { item in
                var u = try ObjectReader(item, context: "\(path): user")
                let user = LegacyUser(name: try u.string("name"), role: try u.string("role"),
                                      sites: (u.optionalValue("sites")?.arrayValue ?? []).compactMap(\.stringValue),
                                      tokenSHA256: try u.string("token_sha256"))
                _ = try u.optionalString("created_at")
                try u.finish()
                return user
            }
        } catch let e as TrialGateError {
            throw e
        } catch {
            throw TrialGateError(.usersFile, "\(path): \(TrialGateError(error).message)")
        }
    }
}
