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
        case .register, .record, .correct, .withdraw, .decide: return role == .coordinator
        case .show, .decisions: return role == .coordinator || role == .sponsor || role == .regulator
        case .verify, .replay: return role == .sponsor || role == .regulator
        case .export: return role == .regulator
        case .report, .exportFHIR, .auditTrail: return role == .sponsor || role == .regulator
        }
    }

    /// Throws `forbidden` unless `principal` may run `command`.
    /// - Parameters:
    ///   - siteOfCandidate: the site a registered candidate belongs to (nil if none is registered).
    ///   - candidateOfEvent: the candidate an event is about (nil if none).
    static func check(_ principal: Principal, _ command: Command, siteOfCandidate: (String) throws -> String?,
                      candidateOfEvent: (Int64) throws -> String?) throws {
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
        case .correct(let seq, _, _, _): if let c = try candidateOfEvent(seq) { try requireSite(try siteOfCandidate(c)) }
        case .decisions(let candidate, _, let site, _, _):
            if let candidate { try requireSite(try siteOfCandidate(candidate)) } else {
                guard let site else { throw ServiceError("forbidden", "a coordinator lists decisions of one site at a time: give site") }
                try requireSite(site)
            }
        default: break
        }
    }
}
