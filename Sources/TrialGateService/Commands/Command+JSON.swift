import Foundation
import TrialGateCore

extension Command {
    /// Reads a request object (`{"cmd": "decide", "candidate": "C-001"}`) into a command.
    ///
    /// The `id` member is the caller's and is ignored here; any other unknown member is an error, and so is
    /// an `actor`: the actor is always the authenticated caller, never what a request says.
    /// - Throws: `TrialGateError` with code `bad_request`, `unknown_field`, `missing_field` or `invalid_field`.
    public static func parse(_ request: JSONValue) throws -> Command {
        var r = try ObjectReader(request, context: "request")
        _ = r.optionalValue("id")
        let cmd = try r.string("cmd")
        let command: Command
        if let c = try parseSetup(cmd, &r) {
            command = c
        } else if let c = try parseCandidate(cmd, &r) {
            command = c
        } else if let c = try parseLifecycle(cmd, &r) {
            command = c
        } else if let c = try parseLog(cmd, &r) {
            command = c
        } else if let c = try parseAccount(cmd, &r) {
            command = c
        } else {
            throw TrialGateError(ErrorCode.badRequest, "unknown command \"\(cmd)\"; known: \(Command.names.joined(separator: ", "))")
        }
        try r.finish()
        return command
    }

    /// The size of a page of a listing, if the request gives one: 1 … maximumPage.
    private static func pageLimit(_ r: inout ObjectReader) throws -> Int? {
        let limit = try r.optionalInteger("limit")
        if let limit, let problem = Command.pageLimitProblem(limit) { throw TrialGateError(.invalidField, "limit \(problem)") }
        return limit
    }

    /// A page of the log: `from` (≥ 1, default 1) and `limit` (default maximumPage).
    private static func page(_ r: inout ObjectReader) throws -> (from: Int64, limit: Int) {
        let from = try r.optionalInteger("from") ?? 1
        guard from >= 1 else { throw TrialGateError(.invalidField, "from must be a sequence number ≥ 1, got \(from)") }
        return (Int64(from), try pageLimit(&r) ?? Command.maximumPage)
    }

    /// `init` and the `policy.*` commands, or nil for another command.
    private static func parseSetup(_ cmd: String, _ r: inout ObjectReader) throws -> Command? {
        switch cmd {
        case "init":
            return .initialise(trialID: try r.string("trial_id"), logOrigin: try r.string("log_origin"))
        case "policy.publish":
            return .policyPublish(text: try r.string("text"), file: try r.optionalString("file") ?? "policy")
        case "policy.check":
            return .policyCheck(text: try r.string("text"), file: try r.optionalString("file") ?? "policy")
        case "policy.impact":
            return .policyImpact(text: try r.string("text"), file: try r.optionalString("file") ?? "policy")
        case "model.register":
            return .modelRegister(card: try r.value("card"), artifact: try r.string("artifact"), settings: try r.string("settings"))
        case "models": return .models
        case "model.show": return .modelShow(id: try r.string("model"), version: try r.string("version"))
        case "model.score":
            return .modelScore(candidate: try r.string("candidate"), model: try r.string("model"), version: try r.optionalString("version"))
        case "policy.test":
            let models = try (r.optionalValue("models")?.arrayValue ?? []).map { m -> ModelSubmission in
                var mr = try ObjectReader(m, context: "policy.test models")
                let submission = ModelSubmission(card: try mr.value("card"), artifact: try mr.string("artifact"), settings: try mr.string("settings"))
                try mr.finish()
                return submission
            }
            return .policyTest(policyText: try r.string("policy"), policyFile: try r.optionalString("policy_file") ?? "policy",
                               casesText: try r.string("cases"), casesFile: try r.optionalString("cases_file") ?? "cases", models: models)
        default:
            return nil
        }
    }

    /// The commands that register, record, correct, withdraw, decide and show a candidate, or nil for another command.
    private static func parseCandidate(_ cmd: String, _ r: inout ObjectReader) throws -> Command? {
        switch cmd {
        case "register":
            let candidate = try r.string("candidate")
            var fields: [String: JSONValue] = ["site": .string(try r.string("site"))]
            if let consent = r.optionalValue("consent_date") { fields["consent_date"] = consent }
            return .register(candidate: candidate, fields: .object(fields))
        case "record":
            return .record(kind: try r.string("kind"), candidate: try r.string("candidate"), fields: try r.value("fields"))
        case "correct":
            let seq = try r.integer("seq")
            return .correct(seq: Int64(seq), field: try r.string("field"), value: r.optionalValue("value") ?? .null,
                            reason: (try r.optionalString("reason")) ?? "")
        case "withdraw":
            let candidate = try r.string("candidate")
            guard let code = try r.optionalString("category") else {
                throw TrialGateError(.missingField, "withdraw: \"category\" is required: one of \(WithdrawalCategory.codes.joined(separator: ", "))")
            }
            return .withdraw(candidate: candidate, category: try WithdrawalCategory.parse(code), reason: try r.optionalString("reason"))
        case "import":
            let encoded = try r.string("content_base64")
            guard let bytes = Data(base64Encoded: encoded).map({ [UInt8]($0) }) else {
                throw TrialGateError(.invalidField, "content_base64 must be the file's bytes in base64 (RFC 4648), got \(encoded.utf8.count) characters that are not")
            }
            guard bytes.count <= Command.maximumImportBytes else {
                throw TrialGateError(.invalidField, "content_base64 holds \(bytes.count) bytes; an import file is at most \(Command.maximumImportBytes) bytes")
            }
            return .importRecords(file: try r.optionalString("file") ?? "import.csv", content: bytes, site: try r.optionalString("site"),
                                  dryRun: try r.optionalBool("dry_run") ?? false)
        case "decide":
            return .decide(candidate: try r.string("candidate"))
        case "show":
            let candidate = try r.string("candidate")
            let seq = try r.optionalInteger("as_of_seq").map(Int64.init)
            let time = try r.optionalString("as_of_time")
            var at: UTCTimestamp?
            if let time {
                guard let t = UTCTimestamp(time) else { throw TrialGateError(.invalidField, "as_of_time must look like 2026-01-31T12:00:00Z, got \"\(time)\"") }
                at = t
            }
            return .show(candidate: candidate, asOfSeq: seq, asOfTime: at)
        default:
            return nil
        }
    }

    /// Decision listings, sign-offs, attestations and review queries, or nil for another command.
    private static func parseLifecycle(_ cmd: String, _ r: inout ObjectReader) throws -> Command? {
        switch cmd {
        case "decisions":
            let after = try r.optionalInteger("after") ?? 0
            guard after >= 0 else { throw TrialGateError(.invalidField, "after must be a sequence number ≥ 0, got \(after)") }
            let standing = try r.optionalString("standing")
            if let standing, !["current", "stale", "superseded"].contains(standing) {
                throw TrialGateError(.invalidField, "standing must be current, stale or superseded, got \"\(standing)\"")
            }
            return .decisions(candidate: try r.optionalString("candidate"), outcome: try r.optionalString("outcome"),
                              site: try r.optionalString("site"), after: Int64(after), limit: try pageLimit(&r), standing: standing)
        case "candidates":
            let after = try r.optionalInteger("after") ?? 0
            guard after >= 0 else { throw TrialGateError(.invalidField, "after must be a registration seq ≥ 0, got \(after)") }
            return .candidates(site: try r.optionalString("site"), status: try r.optionalString("status"), after: Int64(after), limit: try pageLimit(&r))
        case "signoff.prepare":
            return .signOffPrepare(decision: Int64(try r.integer("decision")), outcome: try r.optionalString("outcome"),
                                   reason: try r.optionalString("reason"), user: try r.optionalString("user"))
        case "signoff":
            return .signOff(statement: try r.value("statement"), signature: try r.string("signature"),
                            user: try r.optionalString("user"), signingCode: try r.string("signing_code"))
        case "attest.prepare":
            return .attestPrepare(candidate: try r.string("candidate"), fields: try r.value("fields"), user: try r.optionalString("user"))
        case "attest":
            return .attest(statement: try r.value("statement"), signature: try r.string("signature"),
                           user: try r.optionalString("user"), signingCode: try r.string("signing_code"))
        case "queries":
            let status = try r.optionalString("status")
            if let status, !["open", "answered", "closed"].contains(status) {
                throw TrialGateError(.invalidField, "status must be open, answered or closed, got \"\(status)\"")
            }
            return .queries(candidate: try r.optionalString("candidate"), site: try r.optionalString("site"), status: status)
        case "query.open":
            return .queryOpen(candidate: try r.string("candidate"), criterion: try r.optionalString("criterion"), text: try r.string("text"))
        case "query.answer":
            let records = try (r.optionalValue("records")?.arrayValue ?? []).map { v -> Int64 in
                guard let n = v.intValue else { throw TrialGateError(.invalidField, "records must be a list of event sequence numbers, got \(CanonicalJSON.string(v))") }
                return Int64(n)
            }
            return .queryAnswer(query: Int64(try r.integer("query")), note: try r.string("note"), records: records)
        case "query.close":
            return .queryClose(query: Int64(try r.integer("query")), resolution: try r.string("resolution"))
        default:
            return nil
        }
    }

    /// Verification, exports, reports, the head, keys, checkpoints, proofs and `subscribe`, or nil for another command.
    private static func parseLog(_ cmd: String, _ r: inout ObjectReader) throws -> Command? {
        switch cmd {
        case "verify": return .verify(checkpoint: try r.optionalString("checkpoint"), vkey: try r.optionalString("vkey"),
                                      everyCheckpoint: try r.optionalBool("every_checkpoint") ?? false)
        case "replay": return .replay
        case "export":
            let (from, limit) = try page(&r)
            return .export(from: from, through: try r.optionalInteger("through").map(Int64.init), limit: limit)
        case "report":
            let seq = try r.optionalInteger("as_of_seq").map(Int64.init)
            let time = try r.optionalString("as_of_time").map { t -> UTCTimestamp in
                guard let v = UTCTimestamp(t) else { throw TrialGateError(.invalidField, "as_of_time must look like 2026-01-31T12:00:00Z, got \"\(t)\"") }
                return v
            }
            func date(_ key: String) throws -> CivilDate? {
                try r.optionalString(key).map { d in
                    guard let v = CivilDate(d) else { throw TrialGateError(.invalidField, "\(key) must be YYYY-MM-DD, got \"\(d)\"") }
                    return v
                }
            }
            let format = try r.optionalString("format") ?? "json"
            guard ["json", "csv", "html"].contains(format) else { throw TrialGateError(.invalidField, "format must be json, csv or html, got \"\(format)\"") }
            return .report(asOfSeq: seq, asOfTime: time, site: try r.optionalString("site"), from: try date("from"), to: try date("to"), format: format)
        case "report.snapshot": return .reportSnapshot
        case "export.fhir": return .exportFHIR(site: try r.optionalString("site"))
        case "export.odm", "export.sdtm-ie":
            let through = try r.optionalInteger("through").map(Int64.init)
            if let through, through < 1 { throw TrialGateError(.invalidField, "through must be a log size ≥ 1, got \(through)") }
            let after = try r.optionalInteger("after") ?? 0
            guard after >= 0 else { throw TrialGateError(.invalidField, "after must be 0 or a registration seq, got \(after)") }
            let site = try r.optionalString("site")
            if cmd == "export.odm" {
                return .exportODM(through: through, site: site, after: Int64(after), limit: try pageLimit(&r) ?? Command.odmPage)
            }
            return .exportSDTMIE(through: through, site: site, after: Int64(after), limit: try pageLimit(&r) ?? Command.maximumPage)
        case "audit-trail":
            let (from, limit) = try page(&r)
            return .auditTrail(candidate: try r.optionalString("candidate"), from: from, limit: limit)
        case "head": return .head
        case "public-key": return .publicKey
        case "checkpoint": return .checkpoint(size: try r.optionalInteger("size").map(Int64.init))
        case "proof.inclusion":
            return .proofInclusion(seq: Int64(try r.integer("seq")), size: try r.optionalInteger("size").map(Int64.init))
        case "proof.consistency":
            return .proofConsistency(from: Int64(try r.integer("from")), to: try r.optionalInteger("to").map(Int64.init))
        case "subscribe":
            // Its own message, as the socket has always answered it; an explicit null is not a sequence number.
            let from = r.member("from").map { $0.intValue } ?? 1
            guard r.remainingKeys.isEmpty, let from, from >= 1 else {
                throw TrialGateError(.badRequest, "subscribe takes \"from\": a sequence number ≥ 1")
            }
            return .subscribe(from: Int64(from))
        default:
            return nil
        }
    }

    /// The `user.*` commands and `users`, or nil for another command.
    private static func parseAccount(_ cmd: String, _ r: inout ObjectReader) throws -> Command? {
        switch cmd {
        case "user.add":
            guard let sites = (r.optionalValue("sites") ?? []).arrayValue, sites.allSatisfy({ $0.stringValue != nil }) else {
                throw TrialGateError(.invalidField, "sites must be a list of site ids")
            }
            let expiry = try r.optionalString("expires_at").map { t -> UTCTimestamp in
                guard let v = UTCTimestamp(t) else { throw TrialGateError(.invalidField, "expires_at must look like 2026-12-31T00:00:00Z, got \"\(t)\"") }
                return v
            }
            let printed = try r.optionalString("printed_name"), publicKey = try r.optionalString("public_key")
            let signing = try r.optionalString("signing_sha256")
            var signer: SignerRegistration?
            if printed != nil || publicKey != nil || signing != nil {
                guard let printed, let publicKey, let signing else {
                    throw TrialGateError(.missingField, "an investigator's account needs printed_name, public_key and signing_sha256 together")
                }
                signer = SignerRegistration(printedName: printed, publicKey: publicKey, signingSHA256: signing)
            }
            return .userAdd(name: try r.string("name"), role: try r.string("role"), sites: sites.compactMap(\.stringValue),
                            tokenSHA256: try r.string("token_sha256"), expiresAt: expiry, signer: signer)
        case "user.disable": return .userDisable(name: try r.string("name"), reason: try r.string("reason"))
        case "user.enable": return .userEnable(name: try r.string("name"), reason: try r.string("reason"))
        case "user.remove": return .userRemove(name: try r.string("name"), reason: try r.string("reason"))
        case "user.rotate-token": return .userRotateToken(name: try r.string("name"), tokenSHA256: try r.string("token_sha256"))
        case "user.rotate-signer":
            return .userRotateSigner(name: try r.string("name"), publicKey: try r.string("public_key"), signingSHA256: try r.string("signing_sha256"))
        case "users": return .users
        default:
            return nil
        }
    }
}
