import TrialGateCore

/// Where a trial's log lives on PostgreSQL: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE?trial=NAME`.
///
/// One database holds many trials, each in a schema of its own (`tg_<trial>`) with its own tables, key, policies,
/// checkpoints and users. The password may also come from `PGPASSWORD`; it never appears in `description`.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public let user: String
    public let password: String?
    public let host: String
    public let port: Int
    public let database: String
    /// The trial's name: lower-case letters, digits and `_`, starting with a letter, at most 40 characters.
    public let trial: String

    /// The trial's schema.
    public var schema: String { "tg_" + trial }

    /// Whether `text` names a PostgreSQL store rather than a file.
    public static func names(_ text: String) -> Bool { text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") }

    /// Parses a store URL.
    /// - Throws: `bad_request`-like `store_missing` naming the part that is wrong and what was expected.
    /// - Parameter trialOptional: the URL may name a database without a trial (`trials` lists them); `trial` is then "".
    public init(_ url: String, environment: [String: String] = [:], trialOptional: Bool = false) throws {
        guard let schemeEnd = url.range(of: "://"), Self.names(url) else {
            throw Self.bad(url, "a URL that starts with postgres://")
        }
        var rest = Substring(url[schemeEnd.upperBound...])
        var query = ""
        if let q = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: q)...])
            rest = rest[..<q]
        }
        guard let slash = rest.firstIndex(of: "/") else { throw Self.bad(url, "a database name after the host (…/DATABASE)") }
        let authority = rest[..<slash]
        let database = String(rest[rest.index(after: slash)...])
        guard !database.isEmpty, !database.contains("/") else { throw Self.bad(url, "one database name after the host") }
        var userInfo: Substring = ""
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            userInfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
        }
        var user = String(userInfo)
        var password: String? = environment["PGPASSWORD"]
        if let colon = userInfo.firstIndex(of: ":") {
            user = String(userInfo[..<colon])
            password = Self.percentDecoded(String(userInfo[userInfo.index(after: colon)...]))
        }
        guard !user.isEmpty else { throw Self.bad(url, "a user name before @ (postgres://USER@HOST/DATABASE)") }
        var host = String(hostPort)
        var port = 5432
        if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            guard let p = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(p) else {
                throw Self.bad(url, "a port from 1 to 65535 after the host")
            }
            port = p
        }
        guard !host.isEmpty else { throw Self.bad(url, "a host name") }
        var trial: String?
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw Self.bad(url, "query parameters of the form name=value") }
            switch kv[0] {
            case "trial": trial = kv[1]
            default: throw Self.bad(url, "only the query parameter trial= (got \(kv[0]))")
            }
        }
        guard let trial = trial ?? (trialOptional ? "" : nil) else {
            throw Self.bad(url, "the trial's name as ?trial=NAME (one database holds many trials)")
        }
        guard Self.isTrialName(trial) || (trialOptional && trial.isEmpty) else {
            throw Self.bad(url, "a trial name of lower-case letters, digits and _, starting with a letter, at most 40 characters (got \(trial))")
        }
        (self.user, self.password, self.host, self.port, self.database, self.trial) = (Self.percentDecoded(user), password, host, port, database, trial)
    }

    /// Whether `name` is a trial name a schema can be made of.
    public static func isTrialName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first), name.unicodeScalars.count <= 40 else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    /// The same location for another trial in the same database.
    public func with(trial: String) throws -> PostgresLocation {
        try PostgresLocation("postgres://\(user)@\(host):\(port)/\(database)?trial=\(trial)", environment: password.map { ["PGPASSWORD": $0] } ?? [:])
    }

    public var description: String { databaseDescription + "?trial=\(trial)" }

    /// The database alone, without the trial.
    public var databaseDescription: String { "postgres://\(user)@\(host):\(port)/\(database)" }

    private static func bad(_ url: String, _ expected: String) -> TrialGateError {
        var shown = url
        // Never echo a password back.
        if let s = url.range(of: "://"), let at = url[s.upperBound...].firstIndex(of: "@"),
           let colon = url[s.upperBound..<at].firstIndex(of: ":") {
            shown = String(url[..<colon]) + ":***" + String(url[at...])
        }
        return TrialGateError(.badRequest, "store: \(shown) is not a PostgreSQL store URL; expected \(expected)")
    }

    private static func percentDecoded(_ s: String) -> String {
        var out: [UInt8] = []
        var bytes = Array(s.utf8)[...]
        while let b = bytes.popFirst() {
            if b == UInt8(ascii: "%"), bytes.count >= 2, let v = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) {
                out.append(v)
                bytes = bytes.dropFirst(2)
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
