import TrialGateCore
import TrialGateStore

extension Dispatcher {
    /// Carries out `command` for an authenticated principal, after checking their role and sites.
    /// The principal's name is the actor of every event the command appends.
    public func execute(_ command: Command, principal: Principal) throws -> JSONValue {
        try authorised(command, principal) { try perform(command, actor: principal.name, sites: Self.scope(principal)).json }
    }

    /// Carries out `command` as `execute(_:principal:)` does and answers its result in canonical JSON (RFC 8785),
    /// the bytes a reply carries. A `show` of a candidate's current view answers the bytes kept with the view.
    public func executeEncoded(_ command: Command, principal: Principal) throws -> [UInt8] {
        // A coordinator's `show` needs the candidate's site for the access check: a view built first serves both,
        // instead of reading the registration for the check and then every event for the view. The view is only
        // answered once the check has passed; if it cannot be built, the check and `show` report why, as always.
        var prepare: (() -> Void)?
        if case .show(let candidate, nil, nil) = command, principal.role.isSiteScoped {
            prepare = { _ = try? self.currentShown(candidate: candidate) }
        }
        return try authorised(command, principal, prepare: prepare) {
            guard case .show(let candidate, nil, nil) = command else {
                return CanonicalJSON.encode(try perform(command, actor: principal.name, sites: Self.scope(principal)).json)
            }
            do { return try currentShown(candidate: candidate).encoded } catch { throw TrialGateError(error) }
        }
    }

    /// Runs `body` once `principal` may carry out `command`.
    private func authorised<T>(_ command: Command, _ principal: Principal, prepare: (() -> Void)? = nil,
                               _ body: () throws -> T) throws -> T {
        viewChecks = [:]
        defer { viewChecks = nil }
        prepare?()
        do {
            try Access.check(principal, command, siteOfCandidate: siteOf(candidate:), eventAt: { try self.requireStore().event(seq: $0) })
        } catch {
            throw TrialGateError(error)
        }
        let user: String?
        switch command {
        case .signOff(_, _, let u, _), .attest(_, _, let u, _): user = u
        default: return try body()
        }
        if principal.session?.isLocked == true {
            throw TrialGateError(.signingLocked, "this session gave wrong signature components \(SigningSession.failureLimit) times and may not sign again; authenticate anew")
        }
        let now = clock.now().millisecondsSinceEpoch
        let recent = (signingFailures[principal.name] ?? []).filter { now - $0.millisecondsSinceEpoch < Self.accountFailureWindow }
        signingFailures[principal.name] = recent.isEmpty ? nil : recent
        if recent.count >= Self.accountFailureLimit {
            let until = UTCTimestamp(millisecondsSinceEpoch: recent[0].millisecondsSinceEpoch + Self.accountFailureWindow)
            throw TrialGateError(.signingLocked, "\(principal.name) gave wrong signature components \(recent.count) times in 15 minutes, from any session; signing is refused to this account until \(until)")
        }
        // 21 CFR 11.200(a)(1): the first signing of a session uses every component, later ones the signing code.
        let continuing = principal.session?.hasSigned ?? false
        if user == nil, !continuing { throw Self.firstSigningNeedsBoth }
        signingSessionContinues = continuing
        defer { signingSessionContinues = false }
        do {
            let result = try body()
            principal.session?.markSigned()
            return result
        } catch {
            let e = TrialGateError(error)
            if e.code == .signingFailed || e.code == .badSignature {
                principal.session?.markFailed()
                signingFailures[principal.name, default: []].append(clock.now())
            }
            throw e
        }
    }

    static let firstSigningNeedsBoth = TrialGateError(
        .signingComponents, "the first signing of a session needs both signature components: user (your account name) and signing_code (21 CFR 11.200(a)(1))")

    /// Carries out `command` on behalf of `actor`, with no role check: for the operating-system user of the CLI.
    /// - Returns: the reply's encoding (`perform(_:actor:)`'s `json`).
    /// - Throws: `TrialGateError`; a command that throws has appended nothing.
    public func execute(_ command: Command, actor: String) throws -> JSONValue {
        try perform(command, actor: actor).json
    }

    /// The sites a principal's rows of an import must belong to (nil: any, for roles not held to sites).
    static func scope(_ principal: Principal) -> Set<String>? { principal.role.isSiteScoped ? Set(principal.sites) : nil }

    /// Carries out `command` on behalf of `actor`, with no role check, and answers its typed reply.
    /// - Parameter sites: the sites the rows of an import must belong to (nil: any); `Access` checks every other command.
    /// - Throws: `TrialGateError`; a command that throws has appended nothing.
    public func perform(_ command: Command, actor: String, sites: Set<String>? = nil) throws -> Reply {
        do {
            switch command {
            case .initialise(let trialID, let origin): return .written(try initialise(trialID: trialID, origin: origin, actor: actor))
            case .policyPublish(let text, let file): return .written(try publishPolicy(text: text, file: file, actor: actor))
            case .policyCheck(let text, let file): return .view(try checkPolicy(text: text, file: file))
            case .policyTest(let p, let pf, let c, let cf, let models):
                return .view(try testPolicy(policyText: p, policyFile: pf, casesText: c, casesFile: cf, models: models))
            case .policyImpact(let text, let file): return .view(try policyImpact(text: text, file: file))
            case .register(let candidate, let fields): return .written(try register(candidate: candidate, fields: fields, actor: actor))
            case .record(let kind, let candidate, let fields): return .written(try record(kind: kind, candidate: candidate, fields: fields, actor: actor))
            case .correct(let seq, let field, let value, let reason): return .written(try correct(seq: seq, field: field, value: value, reason: reason, actor: actor))
            case .withdraw(let candidate, let category, let reason):
                return .written(try withdraw(candidate: candidate, category: category, reason: reason, actor: actor))
            case .importRecords(let file, let content, let site, let dryRun):
                return .view(try importRecords(file: file, content: content, site: site, dryRun: dryRun, actor: actor, sites: sites))
            case .decide(let candidate): return .view(try decide(candidate: candidate, actor: actor))
            case .show(let candidate, let seq, let time): return .view(try show(candidate: candidate, asOfSeq: seq, asOfTime: time))
            case .candidates(let site, let status, let after, let limit):
                return .view(try listCandidates(site: site, status: status, after: after, limit: limit))
            case .decisions(let candidate, let outcome, let site, let after, let limit, let standing):
                return .view(try listDecisions(candidate: candidate, outcome: outcome, site: site, after: after, limit: limit, standing: standing))
            case .signOffPrepare(let decision, let outcome, let reason, let user):
                return .view(try prepareSignOff(decision: decision, outcome: outcome, reason: reason, user: user ?? actor))
            case .signOff(let statement, let signature, let user, let code):
                return .written(try signOff(statement: statement, signature: signature, user: user, signingCode: code))
            case .attestPrepare(let candidate, let fields, let user): return .view(try prepareAttestation(candidate: candidate, fields: fields, user: user ?? actor))
            case .attest(let statement, let signature, let user, let code):
                return .written(try attest(statement: statement, signature: signature, user: user, signingCode: code))
            case .queries(let candidate, let site, let status): return .view(try listQueries(candidate: candidate, site: site, status: status))
            case .queryOpen(let candidate, let criterion, let text): return .written(try openQuery(candidate: candidate, criterion: criterion, text: text, actor: actor))
            case .queryAnswer(let query, let note, let records): return .written(try answerQuery(query, note: note, records: records, actor: actor))
            case .queryClose(let query, let resolution): return .written(try closeQuery(query, resolution: resolution, actor: actor))
            case .verify(let note, let vkey, let every): return .view(try verify(checkpoint: note, vkey: vkey, everyCheckpoint: every))
            case .replay: return .view(try audit().replayResult)
            case .export(let from, let through, let limit): return .view(try export(from: from, through: through, limit: limit))
            case .report(let seq, let time, let site, let from, let to, let format):
                return .view(try report(asOfSeq: seq, asOfTime: time, filter: .init(site: site, from: from, to: to), format: format))
            case .reportSnapshot: return .view(try saveReportSnapshot())
            case .exportFHIR(let site):
                return .view(try ScreeningReport.fhir(try fold(asOfSeq: nil, asOfTime: nil), filter: .init(site: site)))
            case .auditTrail(let candidate, let from, let limit): return .view(try auditTrail(candidate: candidate, from: from, limit: limit))
            case .exportODM(let through, let site, let after, let limit): return .view(try exportODM(through: through, site: site, after: after, limit: limit))
            case .exportSDTMIE(let through, let site, let after, let limit):
                return .view(try exportSDTMIE(through: through, site: site, after: after, limit: limit))
            case .head: return .view(try headResult())
            case .publicKey: return .view(try publicKey())
            case .checkpoint(let size): return .view(try checkpoint(size: size))
            case .proofInclusion(let seq, let size): return .view(try inclusionProof(seq: seq, size: size))
            case .proofConsistency(let from, let to): return .view(try consistencyProof(from: from, to: to))
            case .userAdd(let name, let role, let sites, let digest, let expiry, let signer):
                return .written(try addUser(name: name, role: role, sites: sites, tokenSHA256: digest, expiresAt: expiry, signer: signer, actor: actor))
            case .userDisable(let name, let reason): return .written(try changeAccount(.userDisabled, payload: ["name": .string(name), "reason": .string(reason)], actor: actor))
            case .userEnable(let name, let reason): return .written(try changeAccount(.userEnabled, payload: ["name": .string(name), "reason": .string(reason)], actor: actor))
            case .userRemove(let name, let reason): return .written(try changeAccount(.userRemoved, payload: ["name": .string(name), "reason": .string(reason)], actor: actor))
            case .userRotateToken(let name, let digest):
                return .written(try changeAccount(.userTokenRotated, payload: ["name": .string(name), "token_sha256": .string(digest)], actor: actor))
            case .userRotateSigner(let name, let publicKey, let digest): return .written(try rotateSigner(name: name, publicKey: publicKey, signingSHA256: digest, actor: actor))
            case .users: return .view(try listUsers())
            case .subscribe:
                throw TrialGateError(.badRequest, "subscribe streams the log over a served connection (trialgate serve); here, page it with export")
            case .keyRotate(let newKey): return .written(try rotateKey(to: newKey, actor: actor))
            case .exportBundle(let directory, let witnesses, let quorum): return .view(try exportBundle(directory: directory, witnesses: witnesses, quorum: quorum))
            case .modelRegister(let card, let artifact, let settings): return .written(try registerModel(card: card, artifact: artifact, settings: settings, actor: actor))
            case .models: return .view(try listModels())
            case .modelShow(let id, let version): return .view(try showModel(id: id, version: version))
            case .modelScore(let candidate, let model, let version): return .view(try modelScore(candidate: candidate, id: model, version: version))
            }
        } catch {
            throw TrialGateError(error)
        }
    }

    /// Carries out several commands with one durable commit (group commit).
    ///
    /// Each command runs under its own savepoint, so a failing command appends nothing and the others
    /// still land; every result is final only once this returns, after the shared commit.
    /// - Returns: one result per command, in order.
    /// - Throws: only when the shared commit itself fails; then nothing of the batch was written.
    public func executeBatch(_ items: [(command: Command, actor: String)]) throws -> [Result<JSONValue, TrialGateError>] {
        try runBatch(items.map { item in { try self.execute(item.command, actor: item.actor) } })
    }

    /// The same for authenticated principals: each command is checked against its principal's role and sites.
    public func executeBatch(_ items: [(command: Command, principal: Principal)]) throws -> [Result<JSONValue, TrialGateError>] {
        try runBatch(items.map { item in { try self.execute(item.command, principal: item.principal) } })
    }

    private func runBatch(_ items: [() throws -> JSONValue]) throws -> [Result<JSONValue, TrialGateError>] {
        do {
            // One transaction, one checkpoint at its end (decisions inside it already issued their own).
            return try inOneTransaction {
                guard let txn = batchTransaction else { throw TrialGateError(.internal, "no transaction for the batch") }
                return items.map { item in
                    do {
                        return .success(try txn.savepoint { try item() })
                    } catch {
                        return .failure(TrialGateError(error))
                    }
                }
            }
        } catch {
            throw TrialGateError(error)
        }
    }
}
