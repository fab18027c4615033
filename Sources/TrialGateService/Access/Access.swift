import TrialGateCore

/// The role × command rules. Evaluated inside the dispatcher, against the log as it is at that moment.
public enum Access {
    /// Commands each role may run. Coordinators, investigators and monitors are further held to their sites (`check`).
    static func allowed(_ role: Role, _ command: Command) -> Bool {
        switch command {
        // The command line's alone.
        case .initialise, .keyRotate, .exportBundle: return false
        // It streams every event of the log, of every site, from a point on, as `export` pages them: the same rule.
        case .subscribe: return allowed(role, .export(from: 1, through: nil, limit: 1))
        // Checkpoints and proofs carry only hashes: anyone who may connect may check the log grows honestly.
        case .policyCheck, .policyTest, .head, .publicKey, .checkpoint, .proofInclusion, .proofConsistency: return true
        case .policyPublish, .reportSnapshot, .modelRegister: return role == .admin
        // A model's card is public to everyone who may connect, as a policy's text is to those who check it.
        case .models, .modelShow: return true
        // A candidate's score is read like their record.
        case .modelScore: return role != .admin
        // Accounts are changed by an administrator; who could do what is for auditors to see too.
        case .userAdd, .userDisable, .userEnable, .userRemove, .userRotateToken, .userRotateSigner: return role == .admin
        case .users: return role == .admin || role == .sponsor || role == .regulator
        case .register, .correct, .withdraw, .decide: return role == .coordinator
        // Attestations are investigators' signed statements (`attest`), never plain records.
        case .record: return role == .coordinator
        // Each row is then held to the coordinator's sites, as a single register or record would be.
        case .importRecords: return role == .coordinator
        case .show, .decisions, .queries, .candidates: return role != .admin
        case .signOffPrepare, .signOff, .attestPrepare, .attest: return role == .investigator
        case .queryOpen, .queryClose: return role == .investigator || role == .monitor
        case .queryAnswer: return role == .coordinator
        case .verify, .replay: return role == .sponsor || role == .regulator
        case .export: return role == .regulator
        // A monitor reads the report, the FHIR export and the audit trail of their own sites.
        case .report, .exportFHIR, .exportODM, .exportSDTMIE, .auditTrail: return role == .sponsor || role == .regulator || role == .monitor
        // It reads every candidate of every site, so it is for those who see all sites.
        case .policyImpact: return role == .admin || role == .sponsor || role == .regulator
        }
    }

    /// Throws `forbidden` unless `principal` may run `command`.
    /// - Parameters:
    ///   - siteOfCandidate: the site a registered candidate belongs to (nil if none is registered).
    ///   - eventAt: the event with a sequence number (nil if none).
    static func check(_ principal: Principal, _ command: Command, siteOfCandidate: (String) throws -> String?,
                      eventAt: (Int64) throws -> Event?) throws {
        guard allowed(principal.role, command) else {
            switch command {
            case .initialise: throw TrialGateError(.forbidden, "init is done once, from the command line")
            case .subscribe: throw TrialGateError(.forbidden, "\(principal.name) (\(principal.role.rawValue)) may not subscribe")
            default: throw TrialGateError(.forbidden, "\(principal.name) (\(principal.role.rawValue)) may not run \(command.name)")
            }
        }
        guard principal.role.isSiteScoped else { return }
        func requireSite(_ site: String?) throws {
            if let site, !principal.sites.contains(site) {
                throw TrialGateError(.forbidden, "\(principal.name) does not work at site \(site)")
            }
        }
        /// The site filter a site-scoped listing must give (a candidate, or one of the principal's sites).
        func requireScope(candidate: String?, site: String?, what: String) throws {
            if let candidate { try requireSite(try siteOfCandidate(candidate)) }
            guard let site else {
                if candidate == nil { throw TrialGateError(.forbidden, "a \(principal.role.rawValue) lists \(what) of one site at a time: give site") }
                return
            }
            try requireSite(site)
        }
        /// The candidate an event (a decision or a query) is about.
        func candidateOf(_ seq: Int64) throws -> String? { try eventAt(seq)?.candidate }
        switch command {
        case .register(_, let fields): try requireSite(fields["site"]?.stringValue ?? "")
        case .importRecords(_, _, let site?, _): try requireSite(site)
        case .record(_, let c, _), .withdraw(let c, _, _), .decide(let c), .show(let c, _, _), .queryOpen(let c, _, _), .modelScore(let c, _, _):
            try requireSite(try siteOfCandidate(c))
        case .correct(let seq, let field, let value, _):
            guard let target = try eventAt(seq), let c = target.candidate else { break }
            try requireSite(try siteOfCandidate(c))
            // Moving a candidate to another site takes the right to both: a coordinator cannot hand a candidate to a
            // site they do not work at (or to none), nor take one from a site they do not hold.
            if target.type == .candidateRegistered, field == "site" {
                guard let site = value.stringValue else {
                    throw TrialGateError(.forbidden, "\(principal.name) may only move a candidate to a site they work at; site must be a site id, got \(CanonicalJSON.string(value))")
                }
                try requireSite(site)
            }
        case .decisions(let candidate, _, let site, _, _, _): try requireScope(candidate: candidate, site: site, what: "decisions")
        case .candidates(let site, _, _, _): try requireScope(candidate: nil, site: site, what: "candidates")
        case .queries(let candidate, let site, _): try requireScope(candidate: candidate, site: site, what: "queries")
        case .report(_, _, let site, _, _, _): try requireScope(candidate: nil, site: site, what: "reports")
        case .exportFHIR(let site), .exportODM(_, let site, _, _), .exportSDTMIE(_, let site, _, _):
            try requireScope(candidate: nil, site: site, what: "exports (\(command.name))")
        case .auditTrail(let candidate, _, _):
            guard let candidate else { throw TrialGateError(.forbidden, "a \(principal.role.rawValue) reads the audit trail of one candidate at a time: give candidate") }
            try requireSite(try siteOfCandidate(candidate))
        case .queryAnswer(let q, _, _), .queryClose(let q, _), .signOffPrepare(let q, _, _, _):
            if let c = try candidateOf(q) { try requireSite(try siteOfCandidate(c)) }
        case .signOff(let statement, _, _, _), .attest(let statement, _, _, _):
            if let c = statement["candidate"]?.stringValue { try requireSite(try siteOfCandidate(c)) }
        case .attestPrepare(let c, _, _): try requireSite(try siteOfCandidate(c))
        default: break
        }
        try requireSigningAsSelf(principal, command)
    }

    /// A signer signs as themselves: the account named in a signing request, or in what it signs, is the session's.
    private static func requireSigningAsSelf(_ principal: Principal, _ command: Command) throws {
        var named: [String] = []
        switch command {
        case .signOffPrepare(_, _, _, let user?), .attestPrepare(_, _, let user?): named.append(user)
        case .signOff(let statement, _, let user, _), .attest(let statement, _, let user, _):
            named += [user, statement["signer"]?["user"]?.stringValue].compactMap { $0 }
        default: break
        }
        if let other = named.first(where: { $0 != principal.name }) {
            throw TrialGateError(.forbidden, "\(principal.name) may only sign as \(principal.name), not \(other)")
        }
    }
}
