import TrialGateCore

/// The role × command rules. Evaluated inside the dispatcher, against the log as it is at that moment.
public enum Access {
    /// Commands each role may run. Coordinators are further held to their sites.
    static func allowed(_ role: Role, _ command: Command) -> Bool {
        switch command {
        case .initialise: return false
        // Checkpoints and proofs carry only hashes: anyone who may connect may check the log grows honestly.
        case .policyCheck, .policyTest, .head, .publicKey, .checkpoint, .proofInclusion, .proofConsistency: return true
        case .policyPublish, .reportSnapshot: return role == .admin
        // Accounts are changed by an administrator; who could do what is for auditors to see too.
        case .userAdd, .userDisable, .userEnable, .userRemove, .userRotateToken: return role == .admin
        case .users: return role == .admin || role == .sponsor || role == .regulator
        case .register, .record, .correct, .withdraw, .decide: return role == .coordinator
        case .show, .decisions: return role == .coordinator || role == .sponsor || role == .regulator
        case .verify, .replay: return role == .sponsor || role == .regulator
        case .export: return role == .regulator
        case .report, .exportFHIR, .auditTrail: return role == .sponsor || role == .regulator
        // It reads every candidate of every site, so it is for those who see all sites.
        case .policyImpact: return role == .admin || role == .sponsor || role == .regulator
        }
    }

    /// Whether `role` may `subscribe`: it streams every event of the log from a point on, as `export` pages them,
    /// so it is the same rule.
    public static func maySubscribe(_ role: Role) -> Bool { allowed(role, .export(from: 1, through: nil, limit: 1)) }

    /// Throws `forbidden` unless `principal` may run `command`.
    /// - Parameters:
    ///   - siteOfCandidate: the site a registered candidate belongs to (nil if none is registered).
    ///   - eventAt: the event with a sequence number (nil if none).
    static func check(_ principal: Principal, _ command: Command, siteOfCandidate: (String) throws -> String?,
                      eventAt: (Int64) throws -> Event?) throws {
        guard allowed(principal.role, command) else {
            throw ServiceError("forbidden", "\(principal.name) (\(principal.role.rawValue)) may not run \(command.name)")
        }
        guard principal.role == .coordinator else { return }
        func requireSite(_ site: String?) throws {
            if let site, !principal.sites.contains(site) {
                throw ServiceError("forbidden", "\(principal.name) does not work at site \(site)")
            }
        }
        switch command {
        case .register(_, let fields): try requireSite(fields["site"]?.stringValue ?? "")
        case .record(_, let c, _), .withdraw(let c, _), .decide(let c), .show(let c, _, _): try requireSite(try siteOfCandidate(c))
        case .correct(let seq, let field, let value, _):
            guard let target = try eventAt(seq), let c = target.candidate else { break }
            try requireSite(try siteOfCandidate(c))
            // Moving a candidate to another site takes the right to both: a coordinator cannot hand a candidate to a
            // site they do not work at (or to none), nor take one from a site they do not hold.
            if target.type == .candidateRegistered, field == "site" {
                guard let site = value.stringValue else {
                    throw ServiceError("forbidden", "\(principal.name) may only move a candidate to a site they work at; site must be a site id, got \(CanonicalJSON.string(value))")
                }
                try requireSite(site)
            }
        case .decisions(let candidate, _, let site, _, _):
            if let candidate { try requireSite(try siteOfCandidate(candidate)) } else {
                guard let site else { throw ServiceError("forbidden", "a coordinator lists decisions of one site at a time: give site") }
                try requireSite(site)
            }
        default: break
        }
    }
}
