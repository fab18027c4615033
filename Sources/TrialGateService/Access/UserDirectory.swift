import Foundation
import TrialGateAudit
import TrialGateCore

/// The users file: who may connect, with which role and sites, and the SHA-256 of their bearer token.
///
/// Tokens are 256 random bits shown once when a user is added; only their digest is kept, so the file
/// does not let its reader impersonate anyone.
public struct UserDirectory: Sendable {
    public struct User: Sendable, Equatable {
        public let name: String
        public let role: Role
        public let sites: [String]
        /// Hex SHA-256 of the token's UTF-8 bytes.
        public let tokenSHA256: String
        public let createdAt: String
    }

    public private(set) var users: [User]

    public init(users: [User] = []) { self.users = users }

    /// Loads a users file; a missing file is an empty directory.
    /// - Throws: `users_file` naming the file and the problem.
    public static func load(path: String) throws -> UserDirectory {
        guard FileManager.default.fileExists(atPath: path) else { return UserDirectory() }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ServiceError("users_file", "cannot read \(path)")
        }
        do {
            let root = try JSONParser.parse(Array(data))
            var r = try ObjectReader(root, context: path)
            guard let list = try r.value("users").arrayValue else { throw ServiceError("users_file", "\(path): users must be a list") }
            try r.finish()
            var users: [User] = []
            for item in list {
                var u = try ObjectReader(item, context: "\(path): user")
                let name = try u.string("name")
                let roleText = try u.string("role")
                guard let role = Role(rawValue: roleText) else { throw ServiceError("users_file", "\(path): unknown role \"\(roleText)\" for \(name)") }
                let sites = (u.optionalValue("sites")?.arrayValue ?? []).compactMap(\.stringValue)
                users.append(User(name: name, role: role, sites: sites, tokenSHA256: try u.string("token_sha256"),
                                  createdAt: try u.optionalString("created_at") ?? ""))
                try u.finish()
            }
            return UserDirectory(users: users)
        } catch let e as ServiceError {
            throw e
        } catch {
            throw ServiceError("users_file", "\(path): \(ServiceError(error).message)")
        }
    }

    /// Writes the file with mode 0600, replacing it atomically.
    public func save(path: String) throws {
        let json: JSONValue = ["users": .array(users.map { u in
            ["name": .string(u.name), "role": .string(u.role.rawValue), "sites": .array(u.sites.map { .string($0) }),
             "token_sha256": .string(u.tokenSHA256), "created_at": .string(u.createdAt)]
        })]
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw ServiceError("users_file", "cannot write \(tmp): \(String(cString: strerror(errno)))") }
        let bytes = CanonicalJSON.encode(json) + [0x0A]
        let ok = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count && fsync(fd) == 0
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw ServiceError("users_file", "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Adds a user and returns their new token (64 hex digits), which is not stored anywhere.
    public mutating func add(name: String, role: Role, sites: [String], now: UTCTimestamp) throws -> String {
        try RecordSchema.validateIdentifier(name.replacing(":", with: "."), what: "user name")
        if users.contains(where: { $0.name == name }) { throw ServiceError("user_exists", "a user named \(name) already exists") }
        for site in sites { try RecordSchema.validateIdentifier(site, what: "site") }
        if role == .coordinator, sites.isEmpty { throw ServiceError("invalid_field", "a coordinator needs at least one --site") }
        var random = SystemRandomNumberGenerator()
        let token = Digest.hex((0..<32).map { _ in UInt8.random(in: 0...255, using: &random) })
        users.append(User(name: name, role: role, sites: role == .coordinator ? sites : [], tokenSHA256: Digest.sha256Hex(token),
                          createdAt: now.description))
        return token
    }

    /// The principal a bearer token belongs to, if any. Compares digests in constant time.
    public func authenticate(token: String) -> Principal? {
        let digest = Array(Digest.sha256Hex(token).utf8)
        var found: Principal?
        for u in users {
            let stored = Array(u.tokenSHA256.utf8)
            guard stored.count == digest.count else { continue }
            var diff: UInt8 = 0
            for i in 0..<digest.count { diff |= stored[i] ^ digest[i] }
            if diff == 0 { found = Principal(name: u.name, role: u.role, sites: u.sites) }
        }
        return found
    }
}
