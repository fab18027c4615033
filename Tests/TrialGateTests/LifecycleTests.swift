import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
@testable import TrialGateService
import TrialGateStore

/// An investigator as a test plays them: account name, own key and signing code.
struct TestSigner {
    let name: String
    let key: TrialKey
    let code: String

    /// Adds an investigator account working at `sites`.
    @discardableResult
    static func add(_ f: Fixture, _ name: String, sites: [String], seed: UInt8) throws -> TestSigner {
        let key = try TrialKey(seed: Array(repeating: seed, count: 32))
        let s = TestSigner(name: name, key: key, code: "signing-code-of-\(name)")
        try f.run(.userAdd(name: name, role: "investigator", sites: sites, tokenSHA256: Digest.sha256Hex("token-of-\(name)"), expiresAt: nil,
                           signer: SignerRegistration(printedName: "Dr \(name.capitalized)", publicKey: Data(key.publicKey).base64EncodedString(),
                                                      signingSHA256: Digest.sha256Hex(s.code))), as: "admin")
        return s
    }

    func sign(_ statement: JSONValue) -> String { Data(key.sign(CanonicalJSON.encode(statement))).base64EncodedString() }

    /// The statement `signoff.prepare` answers for this signer.
    func prepare(_ f: Fixture, decision: Int64, outcome: String, reason: String? = nil) throws -> JSONValue {
        try f.run(.signOffPrepare(decision: decision, outcome: outcome, reason: reason, user: name), as: name)["statement"]!
    }

    /// Prepares, signs and appends a sign-off.
    @discardableResult
    func signOff(_ f: Fixture, decision: Int64, outcome: String, reason: String? = nil) throws -> JSONValue {
        let statement = try prepare(f, decision: decision, outcome: outcome, reason: reason)
        return try f.run(.signOff(statement: statement, signature: sign(statement), user: name, signingCode: code), as: name)
    }
}

/// The demo's NET-001 (eligible, confirmed), NET-010 (needs review) and NET-017 (eligible, then stale).
func lifecycleScene() throws -> Fixture {
    let f = try Fixture(policy: ShippedPolicies.sanetEP)
    _ = try DemoScenario(today: f.clock.now().date).only(["NET-001", "NET-010", "NET-017"]).run(dispatcher: f.dispatcher, actor: "coordinator")
    return f
}

extension Fixture {
    /// The newest decision of `candidate`.
    func latestDecision(_ candidate: String) throws -> Int64 {
        Int64(try run(.show(candidate: candidate, asOfSeq: nil, asOfTime: nil))["decision"]!["decision_seq"]!.intValue!)
    }

    func show(_ candidate: String) throws -> JSONValue { try run(.show(candidate: candidate, asOfSeq: nil, asOfTime: nil)) }

    func report(_ format: String = "json", site: String? = nil) throws -> JSONValue {
        try run(.report(asOfSeq: nil, asOfTime: nil, site: site, from: nil, to: nil, format: format))
    }

    func row(_ report: JSONValue, _ candidate: String) -> JSONValue? {
        report["screening_log"]?.arrayValue?.first { $0["candidate"]?.stringValue == candidate }
    }

    func fhirStatus(_ candidate: String) throws -> (status: String?, standing: String?) {
        let r = try run(.exportFHIR(site: nil))["resources"]!.arrayValue!.first { $0["id"]?.stringValue == candidate }
        let standing = r?["extension"]?.arrayValue?.first { $0["url"] == "urn:trialgate:fhir:decision-standing" }?["valueCode"]?.stringValue
        return (r?["status"]?.stringValue, standing)
    }
}

@Suite("Decision lifecycle: a decision is current until its data or policy changes; an investigator confirms it")
struct LifecycleTests {
    @Test("a correction after a decision makes it stale in show, decisions, the report (JSON, CSV, HTML), the audit CSV and FHIR; deciding again and signing makes it current and confirmed")
    func staleUntilDecidedAndSigned() throws {
        let f = try lifecycleScene()
        let stale = try f.latestDecision("NET-017")
        let shown = try f.show("NET-017")
        #expect(shown["status"] == "stale")
        #expect(shown["decision"]?["standing"] == "stale" && shown["decision"]?["proposed"] == "eligible")
        #expect(shown["decision"]?["stale_causes"]?.arrayValue?.first?["type"] == "entry.corrected")
        let listed = try f.run(.decisions(candidate: nil, outcome: nil, site: nil, standing: "stale"))["decisions"]!.arrayValue!
        #expect(listed.map { $0["seq"]?.intValue } == [Int(stale)])
        let report = try f.report()
        #expect(f.row(report, "NET-017")?["status"] == "stale" && f.row(report, "NET-017")?["proposed"] == "eligible")
        #expect(report["consort"]?["stale"] == 1)
        #expect(report["consort"]?["eligible"] == 1, "only NET-001's current decision counts as eligible")
        #expect(report["consort"]?["confirmed"]?["eligible"] == 1)
        let csv = try f.report("csv")["csv"]!.stringValue!
        #expect(csv.contains("NET-017,SITE-02,") && csv.contains(",stale,") && csv.contains("entry.corrected of event"))
        let html = try f.report("html")["html"]!.stringValue!
        #expect(html.contains("stale (proposed eligible): event") && html.contains("stale, to decide again: 1"))
        let audit = try f.run(.auditTrail(candidate: "NET-017"))["csv"]!.stringValue!
        #expect(audit.contains("query.opened,about,,stale_decision,"))
        #expect(try f.fhirStatus("NET-017") == ("screening", "stale"))
        #expect(try f.fhirStatus("NET-001") == ("eligible", "current"), "confirmed by the investigator")

        // Signing the stale decision is refused; deciding again and signing makes it current and confirmed.
        let ivy = DemoScenario.investigator(of: "SITE-02")
        let signer = TestSigner(name: ivy.name, key: ivy.key, code: ivy.signingCode)
        #expect(throws: TrialGateError.self) { try signer.prepare(f, decision: stale, outcome: "eligible") }
        #expect(f.errorCode(.signOffPrepare(decision: stale, outcome: "eligible", reason: nil, user: ivy.name)) == "not_signable")
        let redecided = Int64(try f.run(.decide(candidate: "NET-017"))["seq"]!.intValue!)
        #expect(try f.show("NET-017")["status"] == "ineligible", "ECOG 3 fails")
        try signer.signOff(f, decision: redecided, outcome: "ineligible")
        let after = try f.show("NET-017")
        #expect(after["decision"]?["standing"] == "current" && after["decision"]?["confirmed"] == "ineligible")
        // 21 CFR 11.50: the printed name, the time (UTC) and the meaning, wherever the sign-off is shown.
        let shownSignOff = after["decision"]?["signoff"]
        #expect(shownSignOff?["printed_name"] == "Dr SITE-02 Investigator" && shownSignOff?["meaning"] == "confirmed_ineligible")
        #expect(shownSignOff?["meaning_text"]?.stringValue?.hasPrefix("I, Dr SITE-02 Investigator (investigator-site-02), confirm that candidate NET-017 is ineligible") == true)
        let signedAt = shownSignOff?["signed_at"]?.stringValue ?? "?"
        #expect(signedAt.hasSuffix("Z"))
        let csv2 = try f.report("csv")["csv"]!.stringValue!
        #expect(csv2.contains(",ineligible,Dr SITE-02 Investigator,") && csv2.contains(",confirmed_ineligible,"))
        #expect(try f.report("html")["html"]!.stringValue!.contains("confirmed_ineligible by Dr SITE-02 Investigator at "))
        let audit2 = try f.run(.auditTrail(candidate: "NET-017"))["csv"]!.stringValue!
        #expect(audit2.contains("decision.signed,signoff,,confirmed_ineligible,") && audit2.contains("decision.signed,signed_by,,\"Dr SITE-02 Investigator (investigator-site-02, key ")
                && audit2.contains("decision.signed,signed_at,,\(signedAt),"))
        #expect(after["decision"]?["superseded"]?.arrayValue?.map { $0.intValue } == [Int(stale)])
        let all = try f.run(.decisions(candidate: "NET-017", outcome: nil, site: nil))["decisions"]!.arrayValue!
        #expect(all.map { $0["standing"]?.stringValue } == ["superseded", "current"])
        let r2 = try f.report()
        #expect(r2["consort"]?["stale"] == 0 && r2["consort"]?["confirmed"]?["ineligible"] == 1)
        #expect(try f.fhirStatus("NET-017") == ("ineligible", "current"))
        #expect(try f.run(.verify())["valid"] == true)
        #expect(try f.run(.replay)["mismatched"] == 0)
    }

    @Test("a new policy makes every current decision stale and opens a review query on each")
    func policyAmendmentMakesStale() throws {
        let f = try lifecycleScene()
        let amended = ShippedPolicies.sanetEP.replacingOccurrences(of: "version: \"2.0.0\"", with: "version: \"2.0.1\"")
        let published = try f.run(.policyPublish(text: amended, file: "amended.yaml"), as: "admin")
        #expect(published["queries_opened"] == 2, "NET-001 and NET-010 had current decisions; NET-017's was stale already")
        let shown = try f.show("NET-001")
        #expect(shown["status"] == "stale" && shown["decision"]?["confirmed"] == .null, "a confirmation of a stale decision no longer counts")
        #expect(shown["decision"]?["stale_causes"]?.arrayValue?.first?["detail"] == "policy sanet-ep@2.0.1 published")
        #expect(try f.report()["consort"]?["confirmed"]?["eligible"] == 0)
        let open = try f.run(.queries(candidate: "NET-001", site: nil, status: "open"))["queries"]!.arrayValue!
        #expect(open.contains { $0["about"] == "stale_decision" })
    }

    @Test("a sign-off names its exact decision: moved to another decision or candidate, signed by another key, without the code, by a non-investigator or outside the site, it is refused and nothing is appended")
    func signOffBinding() throws {
        let f = try lifecycleScene()
        let one = try f.latestDecision("NET-001")
        let ten = try f.latestDecision("NET-010")
        let both = try TestSigner.add(f, "ivy", sites: ["SITE-01", "SITE-02"], seed: 31)
        let size = try f.size()
        func refused(_ statement: JSONValue, signature: String? = nil, user: String? = "ivy", code: String? = nil, as actor: String = "ivy") -> String? {
            do {
                _ = try f.run(.signOff(statement: statement, signature: signature ?? both.sign(statement), user: user, signingCode: code ?? both.code), as: actor)
                return nil
            } catch { return TrialGateError(error).code.rawValue }
        }
        // NET-010's decision needs review: only an override with a reason.
        #expect(f.errorCode(.signOffPrepare(decision: ten, outcome: "eligible", reason: nil, user: "ivy")) == "not_signable")
        let statement = try both.prepare(f, decision: ten, outcome: "ineligible", reason: "consent form not on file")
        // Moved to another decision (another candidate's): the sha256 and the candidate no longer match.
        var moved = statement
        if case .object(var o) = moved, case .object(var d) = o["decision"]! {
            d["seq"] = .number(Double(one))
            o["decision"] = .object(d)
            moved = .object(o)
        }
        #expect(refused(moved) == "not_signable")
        // Replayed onto another candidate with the signature kept: it no longer verifies.
        var replayed = statement
        if case .object(var o) = replayed { o["candidate"] = "NET-001"; replayed = .object(o) }
        #expect(refused(replayed, signature: both.sign(statement)) == "bad_signature")
        let mallory = try TrialKey(seed: Array(repeating: 99, count: 32))
        #expect(refused(statement, signature: Data(mallory.sign(CanonicalJSON.encode(statement))).base64EncodedString()) == "bad_signature")
        #expect(refused(statement, code: "guessed") == "signing_failed")
        #expect(refused(statement, user: "someone-else") == "forbidden")
        #expect(try f.size() == size + 0, "nothing appended")
        // Signed as it was prepared, it lands; a second sign-off of the same decision is refused.
        #expect(refused(statement) == nil)
        #expect(try f.show("NET-010")["decision"]?["confirmed"] == "ineligible")
        #expect(f.errorCode(.signOffPrepare(decision: ten, outcome: "ineligible", reason: "again", user: "ivy")) == "not_signable")
        // A coordinator and an investigator of another site may not sign; names are the session's own.
        let out = try TestSigner.add(f, "otto", sites: ["SITE-03"], seed: 32)
        #expect(f.errorCode(.signOffPrepare(decision: one, outcome: "eligible", reason: nil, user: "coordinator")) == "forbidden")
        let principal = Principal(name: "otto", role: .investigator, sites: ["SITE-03"]).inNewSession()
        #expect(throws: TrialGateError.self) { try f.dispatcher.execute(.signOffPrepare(decision: one, outcome: "eligible", reason: nil, user: nil), principal: principal) }
        _ = out
        #expect(try f.run(.verify())["valid"] == true)
    }

    @Test("21 CFR 11.200(a)(1): the first signing of a socket session needs the account name and the signing code, later ones the code alone; a new session asks for both again")
    func signingComponentsPerSession() throws {
        let f = try lifecycleScene()
        let ivy = try TestSigner.add(f, "ivy", sites: ["SITE-01", "SITE-02"], seed: 31)
        _ = try f.run(.decide(candidate: "NET-017"))
        let decisions = [try f.latestDecision("NET-010"), try f.latestDecision("NET-017")]
        let session = Principal(name: "ivy", role: .investigator, sites: ["SITE-01", "SITE-02"], tokenSHA256: Digest.sha256Hex("token-of-ivy")).inNewSession()
        func sign(_ decision: Int64, outcome: String, user: String?, in principal: Principal) throws -> JSONValue {
            let st = try f.dispatcher.execute(.signOffPrepare(decision: decision, outcome: outcome, reason: "as reviewed", user: nil), principal: principal)["statement"]!
            return try f.dispatcher.execute(.signOff(statement: st, signature: ivy.sign(st), user: user, signingCode: ivy.code), principal: principal)
        }
        do {
            _ = try sign(decisions[0], outcome: "ineligible", user: nil, in: session)
            Issue.record("the first signing of a session went through with the code alone")
        } catch { #expect(TrialGateError(error).code.rawValue == "signing_components") }
        #expect(try sign(decisions[0], outcome: "ineligible", user: "ivy", in: session)["seq"] != nil)
        #expect(try sign(decisions[1], outcome: "ineligible", user: nil, in: session)["seq"] != nil, "later signings: the code alone")
        // Three refused components lock the session out of signing, the right code included (21 CFR 11.300(d)).
        let guesser = session.inNewSession()
        for _ in 0..<SigningSession.failureLimit {
            #expect(throws: TrialGateError.self) {
                try f.dispatcher.execute(.signOff(statement: ["candidate": "NET-010", "signer": ["user": "ivy"], "decision": ["seq": .number(Double(decisions[0]))]],
                                                  signature: "", user: "ivy", signingCode: "guess"), principal: guesser)
            }
        }
        do {
            _ = try f.dispatcher.execute(.signOff(statement: ["candidate": "NET-010", "signer": ["user": "ivy"]], signature: "", user: "ivy", signingCode: ivy.code),
                                         principal: guesser)
            Issue.record("a locked session signed")
        } catch { #expect(TrialGateError(error).code.rawValue == "signing_locked") }
        // A new session asks for both again.
        do {
            _ = try f.dispatcher.execute(.signOff(statement: ["candidate": "NET-001", "signer": ["user": "ivy"]], signature: "", user: nil, signingCode: ivy.code),
                                         principal: session.inNewSession())
            Issue.record("a new session signed with the code alone")
        } catch { #expect(TrialGateError(error).code.rawValue == "signing_components") }
        // The command line is never a continuous session: it always needs both.
        #expect(f.errorCode(.signOff(statement: ["candidate": "NET-001", "signer": ["user": "ivy"]], signature: "", user: nil, signingCode: ivy.code)) == "signing_components")
    }

    @Test("investigators' accounts: a printed name, a key and a signing code of their own; a name is never reused, nor a key")
    func investigatorAccounts() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        let key = try TrialKey(seed: Array(repeating: 5, count: 32))
        let b64 = Data(key.publicKey).base64EncodedString()
        func add(_ name: String, role: String = "investigator", sites: [String] = ["S1"], signer: SignerRegistration?) -> String? {
            f.errorCode(.userAdd(name: name, role: role, sites: sites, tokenSHA256: Digest.sha256Hex("t-\(name)"), expiresAt: nil, signer: signer))
        }
        #expect(add("ann", signer: nil) == "invalid_field", "an investigator needs a printed name, a key and a code")
        #expect(add("ann", signer: .init(printedName: "Dr Ann", publicKey: "AAAA", signingSHA256: Digest.sha256Hex("c"))) == "invalid_field")
        #expect(add("ann", signer: .init(printedName: "Dr Ann", publicKey: b64, signingSHA256: Digest.sha256Hex("t-ann"))) == "invalid_field",
                "the signing code must differ from the token")
        #expect(add("ann", role: "coordinator", signer: .init(printedName: "Ann", publicKey: b64, signingSHA256: Digest.sha256Hex("c"))) == "invalid_field",
                "only investigators sign")
        #expect(add("ann", signer: .init(printedName: "Dr Ann", publicKey: b64, signingSHA256: Digest.sha256Hex("c"))) == nil)
        #expect(add("bob", signer: .init(printedName: "Dr Bob", publicKey: b64, signingSHA256: Digest.sha256Hex("c2"))) == "invalid_field", "Ann's key")
        // The same key spelt otherwise (a spare bit of the last base64 character set) is not another key.
        var spelt = Array(b64.utf8)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        spelt[42] = alphabet[alphabet.firstIndex(of: spelt[42])! | 1]
        #expect(Data(base64Encoded: String(decoding: spelt, as: UTF8.self)) == Data(key.publicKey))
        #expect(add("bob", signer: .init(printedName: "Dr Bob", publicKey: String(decoding: spelt, as: UTF8.self), signingSHA256: Digest.sha256Hex("c2"))) == "invalid_field",
                "Ann's key in another spelling")
        #expect(add("mo", role: "monitor", sites: [], signer: nil) == "invalid_field", "a monitor is held to sites")
        try f.run(.userRemove(name: "ann", reason: "left the trial"), as: "admin")
        let k2 = Data(try TrialKey(seed: Array(repeating: 6, count: 32)).publicKey).base64EncodedString()
        #expect(add("ann", signer: .init(printedName: "Dr Ann Other", publicKey: k2, signingSHA256: Digest.sha256Hex("c3"))) == "invalid_field",
                "a removed account's name is never given to anyone else")
        let users = try f.run(.users, as: "admin")["users"]!.arrayValue!
        #expect(users.first { $0["name"] == "ann" }?["key_id"]?.stringValue == key.keyID)
    }

    @Test("an investigator's key and signing code are replaced by an attributed event; earlier statements keep verifying with the key they name; old ones sign no more")
    func signerRotation() throws {
        let f = try lifecycleScene()
        let ivy = try TestSigner.add(f, "ivy", sites: ["SITE-01", "SITE-02"], seed: 31)
        try ivy.signOff(f, decision: try f.latestDecision("NET-010"), outcome: "ineligible", reason: "no consent on file")
        let newKey = try TrialKey(seed: Array(repeating: 77, count: 32))
        let renewed = TestSigner(name: "ivy", key: newKey, code: "a-new-signing-code")
        try f.run(.userRotateSigner(name: "ivy", publicKey: Data(newKey.publicKey).base64EncodedString(), signingSHA256: Digest.sha256Hex(renewed.code)), as: "admin")
        #expect(f.errorCode(.userRotateSigner(name: "coordinator", publicKey: Data(newKey.publicKey).base64EncodedString(), signingSHA256: Digest.sha256Hex("x"))) == "invalid_field")
        #expect(f.errorCode(.userRotateSigner(name: "ivy", publicKey: Data(ivy.key.publicKey).base64EncodedString(), signingSHA256: Digest.sha256Hex("y"))) == "invalid_field",
                "a key the log has held never comes back")
        _ = try f.run(.decide(candidate: "NET-017"))
        let decision = try f.latestDecision("NET-017")
        let statement = try renewed.prepare(f, decision: decision, outcome: "ineligible")
        #expect(statement["signer"]?["key_id"]?.stringValue == newKey.keyID)
        #expect(f.errorCode(.signOff(statement: statement, signature: ivy.sign(statement), user: "ivy", signingCode: renewed.code)) == "bad_signature")
        #expect(f.errorCode(.signOff(statement: statement, signature: renewed.sign(statement), user: "ivy", signingCode: ivy.code)) == "signing_failed")
        try f.run(.signOff(statement: statement, signature: renewed.sign(statement), user: "ivy", signingCode: renewed.code), as: "ivy")
        let account = try f.run(.users, as: "admin")["users"]!.arrayValue!.first { $0["name"] == "ivy" }!
        #expect(account["signer_keys"]?.arrayValue?.compactMap { $0["key_id"]?.stringValue } == [ivy.key.keyID, newKey.keyID])
        let verified = try f.run(.verify())
        #expect(verified["valid"] == true, "both sign-offs verify, each with the key it names")
    }

    @Test("what a person signs is plain text and recorded once: control and invisible characters, look-alike printed names, a replayed attestation, a second spelling of a signature, an override into eligibility past an unattested criterion are refused")
    func signedTextAndReplays() throws {
        let f = try lifecycleScene()
        let ivy = try TestSigner.add(f, "ivy", sites: ["SITE-01", "SITE-02"], seed: 31)
        let ten = try f.latestDecision("NET-010")
        // NET-010's informed consent is unattested: it is attested, not overridden into eligibility.
        #expect(f.errorCode(.signOffPrepare(decision: ten, outcome: "eligible", reason: "all fine", user: "ivy")) == "not_signable")
        for reason in ["see notes\n  confirmed: eligible", "\u{1B}[8mhidden", "\u{200B}\u{00A0}", "ok \u{202E}enilbigile", String(repeating: "x", count: 1001)] {
            #expect(f.errorCode(.signOffPrepare(decision: ten, outcome: "ineligible", reason: reason, user: "ivy")) == "not_signable", "\(reason.prefix(20))")
        }
        // A signature in a second base64 spelling (a spare bit set) is not the one canonical form.
        let statement = try ivy.prepare(f, decision: ten, outcome: "ineligible", reason: "no consent on file")
        var sig = Array(ivy.sign(statement).utf8)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        sig[85] = alphabet[alphabet.firstIndex(of: sig[85])! ^ 1]
        #expect(f.errorCode(.signOff(statement: statement, signature: String(decoding: sig, as: UTF8.self), user: "ivy", signingCode: ivy.code)) == "bad_signature")
        // Printed names: no parentheses (the account is shown in them), no direction overrides, never someone else's.
        func add(_ name: String, printed: String, seed: UInt8) -> String? {
            f.errorCode(.userAdd(name: name, role: "investigator", sites: ["SITE-01"], tokenSHA256: Digest.sha256Hex("t-\(name)"), expiresAt: nil,
                                 signer: SignerRegistration(printedName: printed, publicKey: Data(try! TrialKey(seed: Array(repeating: seed, count: 32)).publicKey).base64EncodedString(),
                                                            signingSHA256: Digest.sha256Hex("c-\(name)"))))
        }
        #expect(add("eve2", printed: "Dr Eve (ivy), as Dr Ivy", seed: 51) == "invalid_field")
        #expect(add("eve4", printed: "Dr \u{202E}yvI", seed: 52) == "invalid_field")
        #expect(add("eve3", printed: "dr IVY ", seed: 53) == "invalid_field", "Dr Ivy's printed name, folded")
        #expect(add("eve5", printed: "Dr\u{00A0}Ivy", seed: 54) == "invalid_field", "Dr Ivy's printed name with a no-break space")
        #expect(add("eve6", printed: "Dr  Ivy", seed: 55) == "invalid_field", "Dr Ivy's printed name with two spaces")
        // Reasons of corrections, withdrawals and account changes are plain text too (event schema 3).
        let ki67 = Int64(try f.store.events(candidate: "NET-001").first { $0.type == .ki67Recorded }!.seq)
        #expect(f.errorCode(.correct(seq: ki67, field: "percent", value: 9, reason: "typo\u{1B}[2K")) == "invalid_field")
        #expect(f.errorCode(.withdraw(candidate: "NET-001", category: .other, reason: "moved \u{202E}away")) == "invalid_field")
        #expect(f.errorCode(.userDisable(name: "ivy", reason: "left\nthe site")) == "invalid_field")
        // A signed attestation is recorded once: replayed after a newer one it would bring the old result back.
        let pass = try f.run(.attestPrepare(candidate: "NET-010", fields: ["criterion": "I3-advanced", "result": "pass", "attested_on": "2026-06-30"], user: "ivy"), as: "ivy")["statement"]!
        let signed = ivy.sign(pass)
        try f.run(.attest(statement: pass, signature: signed, user: "ivy", signingCode: ivy.code), as: "ivy")
        f.clock.advance(seconds: 60)
        let fail = try f.run(.attestPrepare(candidate: "NET-010", fields: ["criterion": "I3-advanced", "result": "fail", "attested_on": "2026-06-30"], user: "ivy"), as: "ivy")["statement"]!
        try f.run(.attest(statement: fail, signature: ivy.sign(fail), user: "ivy", signingCode: ivy.code), as: "ivy")
        #expect(f.errorCode(.attest(statement: pass, signature: signed, user: "ivy", signingCode: ivy.code)) == "invalid_event")
        #expect(try f.show("NET-010")["facts"]?["attestation.I3-advanced"]?["value"] == "fail")
        #expect(try f.run(.verify())["valid"] == true)
    }

    @Test("wrong signature components from any session count against the account: after 5 in 15 minutes it may not sign, whatever the session")
    func accountSigningLock() throws {
        let f = try lifecycleScene()
        let ivy = try TestSigner.add(f, "ivy", sites: ["SITE-01", "SITE-02"], seed: 31)
        let principal = Principal(name: "ivy", role: .investigator, sites: ["SITE-01", "SITE-02"], tokenSHA256: Digest.sha256Hex("token-of-ivy"))
        let ten = try f.latestDecision("NET-010")
        func attempt(code: String, in session: Principal) -> String? {
            do {
                let st = try f.dispatcher.execute(.signOffPrepare(decision: ten, outcome: "ineligible", reason: "no consent", user: nil), principal: session)["statement"]!
                _ = try f.dispatcher.execute(.signOff(statement: st, signature: ivy.sign(st), user: "ivy", signingCode: code), principal: session)
                return nil
            } catch { return TrialGateError(error).code.rawValue }
        }
        for _ in 0..<5 { #expect(attempt(code: "guess", in: principal.inNewSession()) == "signing_failed", "a new session each time") }
        #expect(attempt(code: ivy.code, in: principal.inNewSession()) == "signing_locked")
        f.clock.advance(seconds: 15 * 60)
        #expect(attempt(code: ivy.code, in: principal.inNewSession()) == nil, "the window has passed")
    }

    @Test("a report snapshot an earlier release saved (format 2) is skipped by reports and by verify, not reported as a problem")
    func olderSnapshotSkipped() throws {
        let f = try lifecycleScene()
        let size = try f.size() - 1
        let head = try f.store.hash(seq: size)!
        let statement = #"{"format":"trialgate.report-snapshot/2","key_id":"x","log":{"head":"\#(head)","size":\#(size)},"made_at":"2026-07-01T09:00:00.000Z","state_sha256":"x","trial_id":"T-1"}"#
        try Insider(path: f.storePath).sql("INSERT INTO report_snapshots (size, head, made_at, state, statement, signature) VALUES (\(size), '\(head)', '2026-07-01T09:00:00.000Z', x'5447525332', \(Insider.quoted(statement)), 'c2ln');")
        let before = try f.report()
        #expect(before["consort"]?["assessed"] == 3)
        #expect(try f.run(.verify())["valid"] == true)
        // A snapshot of the current format that does not check out is still a problem.
        let bad = statement.replacingOccurrences(of: "report-snapshot/2", with: "report-snapshot/4")
        try Insider(path: f.storePath).sql("INSERT INTO report_snapshots (size, head, made_at, state, statement, signature) VALUES (\(size - 1), '\(try f.store.hash(seq: size - 1)!)', '2026-07-01T09:00:00.000Z', x'5447525334', \(Insider.quoted(bad.replacingOccurrences(of: "\(size)}", with: "\(size - 1)}").replacingOccurrences(of: head, with: try f.store.hash(seq: size - 1)!))), 'c2ln');")
        #expect(try SignOffAuditTests.problems(f) == ["report_snapshot"])
    }

    @Test("attestations are investigators' signed statements: refused as plain records, with another key, outside the site, or corrected; a new one supersedes")
    func signedAttestations() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        try f.run(.register(candidate: "C-1", fields: ["site": "S1"]))
        let ann = try TestSigner.add(f, "ann", sites: ["S1"], seed: 41)
        let far = try TestSigner.add(f, "far", sites: ["S2"], seed: 42)
        let fields: JSONValue = ["criterion": "I1-informed-consent", "result": "pass", "attested_on": "2026-06-30"]
        #expect(f.errorCode(.record(kind: "attestation", candidate: "C-1", fields: fields)) == "invalid_field")
        let statement = try f.run(.attestPrepare(candidate: "C-1", fields: fields, user: "ann"), as: "ann")["statement"]!
        #expect(f.errorCode(.attest(statement: statement, signature: far.sign(statement), user: "ann", signingCode: ann.code)) == "bad_signature")
        #expect(f.errorCode(.attestPrepare(candidate: "C-1", fields: fields, user: "far")) == "invalid_event", "far works at S2")
        var edited = statement
        if case .object(var o) = edited { o["result"] = "fail"; edited = .object(o) }
        #expect(f.errorCode(.attest(statement: edited, signature: ann.sign(statement), user: "ann", signingCode: ann.code)) == "bad_signature")
        let seq = Int64(try f.run(.attest(statement: statement, signature: ann.sign(statement), user: "ann", signingCode: ann.code), as: "ann")["seq"]!.intValue!)
        let fact = try f.show("C-1")["facts"]?["attestation.I1-informed-consent"]
        #expect(fact?["value"] == "pass" && fact?["evidence"] == [.number(Double(seq))])
        #expect(f.errorCode(.correct(seq: seq, field: "result", value: "fail", reason: "wrong form")) == "not_correctable")
        // A new attestation, checked later, supersedes it.
        f.clock.advance(seconds: 86_400)
        let later: JSONValue = ["criterion": "I1-informed-consent", "result": "fail", "attested_on": "2026-07-02", "statement": "consent withdrawn in writing"]
        let second = try f.run(.attestPrepare(candidate: "C-1", fields: later, user: "ann"), as: "ann")["statement"]!
        try f.run(.attest(statement: second, signature: ann.sign(second), user: "ann", signingCode: ann.code), as: "ann")
        #expect(try f.show("C-1")["facts"]?["attestation.I1-informed-consent"]?["value"] == "fail")
        #expect(try f.run(.verify())["valid"] == true)
    }

    @Test("review queries: decisions and stale data open them; a coordinator answers, a monitor or investigator closes; each role only at its sites; the report counts them per site")
    func reviewQueries() throws {
        let f = try lifecycleScene()
        let opened = try f.run(.queries(candidate: nil, site: nil, status: "open"))["queries"]!.arrayValue!
        #expect(opened.contains { $0["candidate"] == "NET-010" && $0["criterion"] == "I1-informed-consent" })
        #expect(opened.contains { $0["candidate"] == "NET-017" && $0["about"] == "stale_decision" })
        let consent = Int64(opened.first { $0["criterion"] == "I1-informed-consent" }!["seq"]!.intValue!)
        try f.run(.userAdd(name: "mona", role: "monitor", sites: ["SITE-01"], tokenSHA256: Digest.sha256Hex("t-mona"), expiresAt: nil), as: "admin")
        try f.run(.userAdd(name: "carl", role: "coordinator", sites: ["SITE-01"], tokenSHA256: Digest.sha256Hex("t-carl"), expiresAt: nil), as: "admin")
        try f.run(.userAdd(name: "cleo", role: "coordinator", sites: ["SITE-02"], tokenSHA256: Digest.sha256Hex("t-cleo"), expiresAt: nil), as: "admin")
        let mona = Principal(name: "mona", role: .monitor, sites: ["SITE-01"], tokenSHA256: Digest.sha256Hex("t-mona"))
        let carl = Principal(name: "carl", role: .coordinator, sites: ["SITE-01"], tokenSHA256: Digest.sha256Hex("t-carl"))
        let cleo = Principal(name: "cleo", role: .coordinator, sites: ["SITE-02"], tokenSHA256: Digest.sha256Hex("t-cleo"))
        func code(_ command: Command, _ p: Principal) -> String? {
            do { _ = try f.dispatcher.execute(command, principal: p); return nil } catch { return TrialGateError(error).code.rawValue }
        }
        #expect(code(.queryAnswer(query: consent, note: "consent signed on paper", records: []), cleo) == "forbidden", "another site's coordinator")
        #expect(code(.queryClose(query: consent, resolution: "ok"), carl) == "forbidden", "a coordinator answers; closing is for others")
        #expect(code(.queryAnswer(query: consent, note: "the signed form is filed; attestation to follow", records: []), carl) == nil)
        #expect(code(.queryClose(query: consent, resolution: "consent confirmed"), mona) == nil)
        #expect(code(.queryClose(query: consent, resolution: "again"), mona) == "invalid_field", "closed already")
        let stale = Int64(opened.first { $0["about"] == "stale_decision" }!["seq"]!.intValue!)
        #expect(code(.queryClose(query: stale, resolution: "x"), mona) == "forbidden", "NET-017 is at SITE-02")
        #expect(code(.queries(candidate: nil, site: nil, status: "open"), mona) == "forbidden", "a monitor lists one site at a time")
        let site1 = try f.dispatcher.execute(.queries(candidate: nil, site: "SITE-01", status: nil), principal: mona)
        #expect(site1["queries"]?.arrayValue?.allSatisfy { $0["site"] == "SITE-01" } == true)
        #expect(site1["by_status"]?["closed"] == 1)
        // A monitor reads their sites, and only those; never writes data.
        #expect(code(.show(candidate: "NET-001", asOfSeq: nil, asOfTime: nil), mona) == nil)
        #expect(code(.show(candidate: "NET-017", asOfSeq: nil, asOfTime: nil), mona) == "forbidden")
        #expect(code(.report(asOfSeq: nil, asOfTime: nil, site: "SITE-01", from: nil, to: nil, format: "json"), mona) == nil)
        #expect(code(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "json"), mona) == "forbidden")
        #expect(code(.record(kind: "ki67", candidate: "NET-001", fields: ScreeningTests.ki67), mona) == "forbidden")
        let sites = try f.report()["sites"]!.arrayValue!
        let s1 = sites.first { $0["site"] == "SITE-01" }!
        #expect(s1["queries"]?["closed"] == 1)
        let s2 = sites.first { $0["site"] == "SITE-02" }!
        #expect(s2["queries"]?["open"] == 1 && s2["queries"]?["max_age_days_not_closed"] != .null)
        #expect(try f.run(.verify())["valid"] == true)
    }
}

@Suite("Forged sign-offs and attestations in the log are caught by verify")
struct SignOffAuditTests {
    /// The operator, who holds the trial key but not an investigator's: appends an event and signs a checkpoint
    /// over it, so that only the sign-off's own checks can object.
    static func operatorAppends(_ f: Fixture, _ draft: EventDraft) throws {
        // The store's own append, which keeps the tree, without the dispatcher's rules.
        let head = try f.store.head()
        let (event, body) = HashChain.sealWithBody(draft, seq: head.size + 1, prevHash: head.hash)
        try f.store.write { txn in
            try txn.append(event, canonicalBody: body)
            let note = try Checkpoint(origin: "trialgate.test/T-1", size: event.seq, root: try txn.treeRoot())
                .signed(by: [try NoteSigner(name: "trialgate.test/T-1", key: f.key)])
            try txn.addCheckpoint(size: event.seq, issuedAt: f.clock.now(), note: note)
        }
    }

    static func problems(_ f: Fixture) throws -> [String] {
        try (f.run(.verify())["problems"]?.arrayValue ?? []).compactMap { $0["code"]?.stringValue }
    }

    @Test("a sign-off moved to another candidate, one bound to another decision's bytes, one of a stale decision, one with a forged signature")
    func forgedSignOffs() throws {
        let attacks: [(String, (Fixture, TestSigner, JSONValue) throws -> EventDraft, String)] = [
            ("moved to another candidate", { f, s, st in
                EventDraft(timestamp: f.clock.now(), actor: s.name, type: .decisionSigned, candidate: "NET-010", payload: ["statement": st, "signature": .string(s.sign(st))])
            }, "invalid_event"),
            ("another decision's bytes", { f, s, st in
                var o = st.objectValue!
                var d = o["decision"]!.objectValue!
                d["sha256"] = .string(String(repeating: "ab", count: 32))
                o["decision"] = .object(d)
                return EventDraft(timestamp: f.clock.now(), actor: s.name, type: .decisionSigned, candidate: "NET-017",
                                  payload: ["statement": .object(o), "signature": .string(s.sign(.object(o)))])
            }, "signoff_binding"),
            ("a forged signature", { f, s, st in
                EventDraft(timestamp: f.clock.now(), actor: s.name, type: .decisionSigned, candidate: "NET-017",
                           payload: ["statement": st, "signature": .string(Data(repeating: 7, count: 64).base64EncodedString())])
            }, "bad_signature"),
        ]
        for (what, attack, code) in attacks {
            let f = try lifecycleScene()
            let ivy = try TestSigner.add(f, "ivy", sites: ["SITE-01", "SITE-02"], seed: 31)
            _ = try f.run(.decide(candidate: "NET-017"))
            let statement = try ivy.prepare(f, decision: try f.latestDecision("NET-017"), outcome: "ineligible")
            try Self.operatorAppends(f, try attack(f, ivy, statement))
            #expect(try Self.problems(f) == [code], "\(what)")
        }
        // A stale decision, signed by the investigator's own key, appended by the operator.
        let f = try lifecycleScene()
        let ivy = try TestSigner.add(f, "ivy", sites: ["SITE-02"], seed: 31)
        _ = try f.run(.decide(candidate: "NET-017"))
        let statement = try ivy.prepare(f, decision: try f.latestDecision("NET-017"), outcome: "ineligible")
        try f.run(.record(kind: "clinical", candidate: "NET-017", fields: ["assessed_on": .string(f.clock.now().date.description), "ecog": 1]))
        try Self.operatorAppends(f, EventDraft(timestamp: f.clock.now(), actor: "ivy", type: .decisionSigned, candidate: "NET-017",
                                               payload: ["statement": statement, "signature": .string(ivy.sign(statement))]))
        let r = try f.run(.verify())
        #expect(try Self.problems(f) == ["invalid_event"], "\(r)")
        #expect(r["problems"]?.arrayValue?.first?["message"]?.stringValue?.contains("stale") == true)
    }

    @Test("after an event the fold refuses, verify goes on: the next events chain on and their signatures are still checked")
    func verifyGoesOnAfterABadEvent() throws {
        let f = try lifecycleScene()
        let ivy = try TestSigner.add(f, "ivy", sites: ["SITE-01", "SITE-02"], seed: 31)
        let statement = try ivy.prepare(f, decision: try f.latestDecision("NET-010"), outcome: "ineligible", reason: "no consent on file")
        // A query answer naming no query (refused by the fold), then a sign-off whose signature is forged.
        try Self.operatorAppends(f, EventDraft(timestamp: f.clock.now(), actor: "coordinator", type: .queryAnswered, candidate: "NET-010",
                                               payload: ["query": 1, "note": "see file"]))
        let bad = try f.size()
        try Self.operatorAppends(f, EventDraft(timestamp: f.clock.now(), actor: "ivy", type: .decisionSigned, candidate: "NET-010",
                                               payload: ["statement": statement, "signature": .string(Data(repeating: 9, count: 64).base64EncodedString())]))
        let found = try f.run(.verify())["problems"]!.arrayValue!.map { ($0["seq"]!.intValue!, $0["code"]!.stringValue!) }
        #expect(found.map(\.0) == [Int(bad), Int(bad) + 1] && found.map(\.1) == ["invalid_event", "bad_signature"], "\(found)")
    }

    @Test("an unsigned or badly signed schema-3 attestation, and an account whose key id does not name its key")
    func forgedAttestationAndAccount() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        try f.run(.register(candidate: "C-1", fields: ["site": "S1"]))
        let ann = try TestSigner.add(f, "ann", sites: ["S1"], seed: 41)
        let now = f.clock.now()
        try Self.operatorAppends(f, EventDraft(timestamp: now, actor: "ann", type: .attestationRecorded, candidate: "C-1", payload: [
            "criterion": "I1-informed-consent", "result": "pass", "attested_on": "2026-06-30", "signer": "ann", "printed_name": "Dr Ann",
            "key_id": .string(ann.key.keyID), "signed_at": .string(now.description), "signature": .string(Data(repeating: 1, count: 64).base64EncodedString()),
        ]))
        #expect(try Self.problems(f) == ["bad_signature"])
        let g = try Fixture(policy: ShippedPolicies.sanetEP)
        try Self.operatorAppends(g, EventDraft(timestamp: now, actor: "admin", type: .userAdded, candidate: nil, payload: [
            "name": "eve", "role": "investigator", "sites": ["S1"], "token_sha256": .string(Digest.sha256Hex("t")), "printed_name": "Dr Eve",
            "public_key": .string(Data(ann.key.publicKey).base64EncodedString()), "key_id": "0000000000000000", "signing_sha256": .string(Digest.sha256Hex("c")),
        ]))
        #expect(try Self.problems(g) == ["account_key"])
    }
}
