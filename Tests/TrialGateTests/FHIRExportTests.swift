import Testing
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
@testable import TrialGateService
import TrialGateStore

@Suite("FHIR export: ids that cannot collide, the ResearchStudy the subjects refer to, statuses from confirmed decisions")
struct FHIRExportTests {
    /// The FHIR R4 id rule: `[A-Za-z0-9\-\.]{1,64}`.
    func isFHIRID(_ s: String) -> Bool {
        (1...64).contains(s.utf8.count) && s.utf8.allSatisfy { c in
            (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || c == 0x2D || c == 0x2E
        }
    }

    @Test("NET_under.score and NET-under.score get different ids; an id that is already a FHIR id is kept")
    func underscoreAndHyphenDiffer() {
        let kept = FHIRID.of("NET-under.score")
        let mapped = FHIRID.of("NET_under.score")
        #expect(kept == "NET-under.score")
        #expect(mapped != kept)
        #expect(mapped.hasPrefix("NET-under.score--") && isFHIRID(mapped))
        // An identifier shaped like a mapped id is mapped again, so it cannot take another's id.
        #expect(FHIRID.of(mapped) != mapped && isFHIRID(FHIRID.of(mapped)))
        // 64 characters with an underscore: the prefix is cut so that the id stays within 64.
        let long = String(repeating: "a_", count: 32)
        #expect(FHIRID.of(long).utf8.count == 64 && isFHIRID(FHIRID.of(long)))
    }

    @Test("over 200,000 generated identifiers, built to collide, every id is a FHIR id and no two are the same")
    func injectiveOverGeneratedIdentifiers() {
        var rng = SeededGenerator(state: 23)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
        var identifiers = Set<String>()
        while identifiers.count < 200_000 {
            let length = Int.random(in: 1...64, using: &rng)
            let base = String((0..<length).map { _ in alphabet.randomElement(using: &rng)! })
            identifiers.insert(base)
            // Near twins: `_` and `-` swapped (the old export's collision), a long shared prefix, a mapped id itself.
            identifiers.insert(String(base.map { $0 == "_" ? "-" : $0 == "-" ? "_" : $0 }))
            identifiers.insert(String((String(repeating: "S_", count: 21) + base).prefix(64)))
            identifiers.insert(FHIRID.of(base))
        }
        var ids: [String: String] = [:]
        var notIDs: [String] = []
        var collisions: [String] = []
        for identifier in identifiers {
            let id = FHIRID.of(identifier)
            if !isFHIRID(id) { notIDs.append("\(identifier) → \(id)") }
            if let other = ids.updateValue(identifier, forKey: id) { collisions.append("\(other) and \(identifier) → \(id)") }
        }
        #expect(notIDs.isEmpty, "\(notIDs.prefix(3))")
        #expect(collisions.isEmpty, "\(collisions.prefix(3))")
        #expect(ids.count == identifiers.count)
    }

    @Test("the export starts with the ResearchStudy: trial id and registry number as identifiers, the policy's title; every subject refers to it")
    func researchStudy() throws {
        let f = try ReportTests().demo()
        let reply = try f.run(.exportFHIR(site: nil))
        let study = reply["study"]!
        #expect(study["resourceType"] == "ResearchStudy" && study["id"] == "T-1" && study["status"] == "active")
        #expect(study["identifier"] == [["system": "urn:trialgate:trialgate.test/T-1:trial", "value": "T-1"],
                                       ["system": "https://clinicaltrials.gov", "value": "NCT02588170"]])
        #expect(study["title"]?.stringValue?.hasPrefix("SANET-ep (NCT02588170)") == true)
        let subjects = reply["resources"]!.arrayValue!
        #expect(subjects.count == 17)
        #expect(subjects.allSatisfy { $0["study"] == ["reference": "ResearchStudy/T-1"] })
    }

    @Test("candidate and trial ids that are not FHIR ids are mapped, kept as identifiers, and the references follow")
    func mappedIdsInTheExport() throws {
        let dir = TempDir()
        let key = try TrialKey(seed: Array(repeating: 7, count: 32))
        let d = Dispatcher(store: try EventStore.create(path: dir.path + "/t.sqlite"), clock: TestClock(), key: { key })
        _ = try d.execute(.initialise(trialID: "TRIAL_9", logOrigin: "trialgate.test/TRIAL_9"), actor: "admin")
        _ = try d.execute(.policyPublish(text: ShippedPolicies.sanetEP, file: "p.yaml"), actor: "admin")
        for c in ["NET_under.score", "NET-under.score"] {
            _ = try d.execute(.register(candidate: c, fields: ["site": "SITE-01"]), actor: "coordinator")
        }
        let reply = try d.execute(.exportFHIR(site: nil), actor: "sponsor")
        let studyID = reply["study"]!["id"]!.stringValue!
        #expect(studyID != "TRIAL_9" && studyID.hasPrefix("TRIAL-9--") && isFHIRID(studyID))
        #expect(reply["study"]!["identifier"]!.arrayValue!.first?["value"] == "TRIAL_9")
        let subjects = reply["resources"]!.arrayValue!
        let ids = subjects.compactMap { $0["id"]?.stringValue }
        #expect(Set(ids).count == 2 && ids.allSatisfy(isFHIRID) && ids.contains("NET-under.score"))
        #expect(Set(subjects.compactMap { $0["identifier"]?.arrayValue?.first?["value"]?.stringValue }) == ["NET_under.score", "NET-under.score"])
        #expect(subjects.allSatisfy { $0["study"]?["reference"]?.stringValue == "ResearchStudy/\(studyID)" })
    }

    static let statusTable: [(withdrawn: Bool, decided: Bool, confirmed: String?, status: ResearchSubject.Status)] = [
        (false, false, nil, .candidate),
        (false, true, nil, .screening),
        (false, true, "eligible", .eligible),
        (false, true, "ineligible", .ineligible),
        (true, true, "eligible", .withdrawn),
        (true, false, nil, .withdrawn),
    ]

    @Test("status: no decision is a candidate, an unconfirmed or stale one screening, a confirmed one eligible or ineligible, a withdrawal withdrawn",
          arguments: Self.statusTable)
    func subjectStatus(row: (withdrawn: Bool, decided: Bool, confirmed: String?, status: ResearchSubject.Status)) {
        #expect(ScreeningReport.subjectStatus(withdrawn: row.withdrawn, decided: row.decided, confirmed: row.confirmed) == row.status)
    }

    @Test("a ClinicalTrials.gov number is NCT and eight digits, standing alone", arguments: [
        ("SANET-ep (NCT02588170), extrapancreatic NET", ["NCT02588170"]),
        ("NCT02588170 and NCT02589821, NCT02588170 again", ["NCT02588170", "NCT02589821"]),
        ("NCT0258817 is short; NCT025881701 is long; XNCT02588170 is inside a word", []),
        ("no number", []),
    ])
    func registryNumbers(title: String, numbers: [String]) {
        #expect(ScreeningReport.registryNumbers(in: title) == numbers)
    }
}
