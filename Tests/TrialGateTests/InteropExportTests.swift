import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import TrialGateCore
import TrialGatePolicies
@testable import TrialGateService

@Suite("CDISC ODM 1.3.2 and SDTM IE exports")
struct InteropExportTests {
    func demo() throws -> Fixture {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        return f
    }

    /// Every page of the ODM export joined, with the pages' `next_after` chain followed.
    func odm(_ f: Fixture, limit: Int = Command.odmPage, site: String? = nil) throws -> (xml: String, pages: Int) {
        var after: Int64? = 0, through: Int64?
        var xml = "", pages = 0
        while let a = after {
            let page = try f.dispatcher.perform(.exportODM(through: through, site: site, after: a, limit: limit), actor: "coordinator").decode(ODMExportReply.self)
            through = page.logSize
            xml += page.xml
            after = page.nextAfter
            pages += 1
        }
        return (xml, pages)
    }

    /// Values and their IBM doubles: 1 and -118.625 as SAS TS-140 gives them, the rest worked by hand from the format.
    static let ibmValues: [(Double, UInt64)] = [
        (1.0, 0x4110_0000_0000_0000), (-118.625, 0xC276_A000_0000_0000), (0.0, 0), (-0.0, 0), (2.0, 0x4120_0000_0000_0000),
        (16.0, 0x4210_0000_0000_0000), (100.0, 0x4264_0000_0000_0000), (0.5, 0x4080_0000_0000_0000), (-1.0, 0xC110_0000_0000_0000),
        (Double.nan, 0x2E00_0000_0000_0000),
    ]

    @Test("IBM 370 doubles of known values (SAS TS-140)", arguments: ibmValues)
    func ibmFloat(value: Double, expected: UInt64) {
        #expect(IBMFloat.encode(value) == expected, "\(value) -> \(String(IBMFloat.encode(value), radix: 16))")
    }

    @Test("IBM doubles of whole numbers up to 2^50 read back exactly")
    func ibmFloatExact() {
        for n in [3.0, 7.0, 255.0, 4096.0, 123_456_789.0, 1_125_899_906_842_623.0] {
            let bits = IBMFloat.encode(n)
            let fraction = Double(bits & 0x00FF_FFFF_FFFF_FFFF) / 72_057_594_037_927_936.0  // 2^56
            let value = fraction * pow(16, Double(Int((bits >> 56) & 0x7F) - 64))
            #expect(value == n)
        }
    }

    @Test("every shipped policy's criteria get distinct IETESTCDs of at most 8 characters, I/E by kind")
    func testCodes() throws {
        for text in [ShippedPolicies.sanetEP, ShippedPolicies.sanetP, ShippedPolicies.radiomicsSubstudy, ShippedPolicies.radiomicsSubstudyModelGate] {
            let policy = try PolicyLoader.load(text)
            let codes = policy.sdtmTestCodes
            #expect(codes.count == policy.criteria.count)
            #expect(Set(codes.values).count == codes.count, "two criteria of \(policy.id) share a code: \(codes)")
            for c in policy.criteria {
                let code = try #require(codes[c.id])
                #expect(XPTWriter.isSASName(code) && code.count <= 8)
                #expect(code.hasPrefix(c.kind == .inclusion ? "I" : "E"))
            }
        }
        let sanet = try PolicyLoader.load(ShippedPolicies.sanetEP).sdtmTestCodes
        #expect(sanet["I1-informed-consent"] == "I01" && sanet["I3-primary-site"] == "I03" && sanet["I3-central-pathology"] == "I04")
        #expect(sanet["PUB-ecog"] == "I14" && sanet["E1-nec-or-high-grade"] == "E01" && sanet["E3-registered-exclusions"] == "E03")
    }

    @Test("the IE domain lists each criterion the newest decision failed, with SDTMIG values")
    func ieRecords() throws {
        let f = try demo()
        let reply = try f.dispatcher.perform(.exportSDTMIE(), actor: "coordinator").decode(SDTMIEReply.self)
        let records = reply.records
        // The report's exclusions by criterion: E1 4, I3-grade 3, I3-well-differentiated-net 1, I4 1, I5 1, I7 1, PUB-ecog 1.
        var byCriterion: [String: Int] = [:]
        for r in records { byCriterion[r.spID, default: 0] += 1 }
        #expect(byCriterion["E1-nec-or-high-grade"] == 4 && byCriterion["I3-grade"] == 3 && byCriterion["PUB-ecog"] == 1)
        let trial = try #require(f.dispatcher.perform(.head, actor: "coordinator").decode(HeadReply.self).trial?.trialID)
        for r in records {
            #expect(r.domain == "IE" && r.studyID == trial && r.usubjID.hasPrefix("\(trial)-NET-"))
            #expect(r.category == (r.testCode.hasPrefix("I") ? "INCLUSION" : "EXCLUSION"))
            #expect(r.originalResult == (r.category == "INCLUSION" ? "N" : "Y") && r.standardResult == r.originalResult)
            #expect(r.test.unicodeScalars.allSatisfy { (0x20...0x7E).contains($0.value) } && !r.test.isEmpty && r.test.utf8.count <= 200)
            #expect(r.dateTime.count == 19 && r.dateTime.dropFirst(10).first == "T")
        }
        // IESEQ counts 1, 2, … within a subject.
        var seen: [String: Int] = [:]
        for r in records {
            seen[r.usubjID, default: 0] += 1
            #expect(r.seq == seen[r.usubjID])
        }
        // A page of one candidate at a time gives the same records.
        var paged: [IERecord] = [], after: Int64? = 0
        while let a = after {
            let page = try f.dispatcher.perform(.exportSDTMIE(through: reply.logSize, site: nil, after: a, limit: 1), actor: "coordinator").decode(SDTMIEReply.self)
            paged += page.records
            after = page.nextAfter
        }
        #expect(paged == records)
        let csv = SDTMIE.csv(records)
        #expect(csv.hasPrefix("STUDYID,DOMAIN,USUBJID,IESEQ,IESPID,IETESTCD,IETEST,IECAT,IEORRES,IESTRESC,IEDTC\r\n"))
        #expect(csv.components(separatedBy: "\r\n").count == records.count + 2)
    }

    @Test("the SAS transport file has 80-byte records, the TS-140 headers and each value at its NAMESTR's offset")
    func transportLayout() throws {
        let records = [IERecord(studyID: "S", usubjID: "S-C-1", seq: 1, spID: "I3-grade", testCode: "I06", test: "Grade G1 or G2",
                                category: "INCLUSION", originalResult: "N", standardResult: "N", dateTime: "2026-11-30T10:00:00"),
                       IERecord(studyID: "S", usubjID: "S-C-1", seq: 2, spID: "E1-nec", testCode: "E01", test: "NEC",
                                category: "EXCLUSION", originalResult: "Y", standardResult: "Y", dateTime: "2026-11-30T10:00:00")]
        let bytes = try SDTMIE.transport(records, created: UTCTimestamp("2026-12-01T04:25:09.123Z")!)
        #expect(bytes.count % 80 == 0)
        func text(_ from: Int, _ count: Int) -> String { String(decoding: bytes[from..<(from + count)], as: UTF8.self) }
        #expect(text(0, 80) == "HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!000000000000000000000000000000  ")
        #expect(text(80, 8) == "SAS     " && text(80 + 64, 16) == "01DEC26:04:25:09")
        #expect(text(240, 80).hasPrefix("HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!000000000000000001600000000140"))
        #expect(text(400 + 8, 8) == "IE      ")
        #expect(text(560, 80) == "HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!000000001100000000000000000000  ")
        // NAMESTR 4 (IESEQ): numeric, length 8, position after STUDYID (1), DOMAIN (2), USUBJID (5).
        let n4 = 640 + 3 * 140
        #expect(bytes[n4 + 1] == 1 && bytes[n4 + 5] == 8 && bytes[n4 + 7] == 4 && text(n4 + 8, 8) == "IESEQ   ")
        #expect(text(n4 + 16, 15) == "Sequence Number" && Array(bytes[(n4 + 84)..<(n4 + 88)]) == [0, 0, 0, 8])
        let obsHeader = 640 + ((11 * 140 + 79) / 80) * 80
        #expect(text(obsHeader, 48) == "HEADER RECORD*******OBS     HEADER RECORD!!!!!!!")
        let widths = [1, 2, 5, 8, 8, 3, 14, 9, 1, 1, 19], obs = widths.reduce(0, +)
        let second = obsHeader + 80 + obs
        #expect(text(second, 1) == "S" && Array(bytes[(second + 8)..<(second + 16)]) == IBMFloat.bytes(2))
        #expect(text(second + 16, 8) == "E1-nec  " && text(second + 24 + 3 + 14, 9) == "EXCLUSION")
        #expect(bytes.count == obsHeader + 80 + ((2 * obs + 79) / 80) * 80)
        // Bad names, labels and values are refused with the variable named.
        #expect(throws: TrialGateError.self) {
            try XPTWriter(dataset: "IE", label: "x", variables: [.init(name: "TOOLONGNAME", label: "x", numeric: false)], rows: [], created: .init(millisecondsSinceEpoch: 0))
        }
        #expect(throws: TrialGateError.self) {
            try XPTWriter(dataset: "IE", label: "x", variables: [.init(name: "A", label: "x", numeric: false)], rows: [["≥ 2"]], created: .init(millisecondsSinceEpoch: 0))
        }
    }

    @Test("XML text escapes markup, keeps whitespace in attributes and replaces what XML 1.0 cannot carry")
    func xmlEscaping() {
        #expect(XMLText.attribute("a<b & \"c\" > d") == "a&lt;b &amp; &quot;c&quot; &gt; d")
        #expect(XMLText.attribute("line\nnext\ttab\r") == "line&#10;next&#9;tab&#13;")
        #expect(XMLText.content("\"q\"\n<x>") == "\"q\"\n&lt;x&gt;")
        #expect(XMLText.content("bell\u{07}nul\u{0}") == "bell\u{FFFD}nul\u{FFFD}")
        #expect(XMLText.content("Ki-67 ≤ 20 %, 𝛼, é, 中文") == "Ki-67 ≤ 20 %, 𝛼, é, 中文")
    }

    @Test("the ODM document: transactional, every candidate a SubjectData, corrections as updates with their reason, pages joined")
    func odmDocument() throws {
        let f = try demo()
        let whole = try odm(f)
        #expect(whole.pages == 1)
        let xml = whole.xml
        #expect(xml.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ODM xmlns=\"http://www.cdisc.org/ns/odm/v1.3\" ODMVersion=\"1.3.2\" FileType=\"Transactional\""))
        #expect(xml.hasSuffix("</ClinicalData>\n</ODM>\n"))
        #expect(xml.components(separatedBy: "<SubjectData SubjectKey=").count - 1 == 17)
        // NET-017's ECOG was corrected: the recorded value, then the update with its reason and the correction's seq.
        let audit = try f.run(.auditTrail(candidate: "NET-017"))["csv"]!.stringValue!
        let correction = try #require(audit.components(separatedBy: "\r\n").first { $0.contains("entry.corrected") }?.components(separatedBy: ","))
        let update = try #require(xml.range(of: "<ItemData ItemOID=\"IT.clinical.ecog\" TransactionType=\"Update\" Value=\"\(correction[7])\">"))
        let original = try #require(xml.range(of: "<ItemData ItemOID=\"IT.clinical.ecog\" Value=\"\(correction[6])\">"))
        #expect(original.lowerBound < update.lowerBound)
        #expect(xml[update.upperBound...].prefix(400).contains("<SourceID>\(correction[0])</SourceID>"))
        #expect(xml[update.upperBound...].prefix(400).contains("<ReasonForChange>"))
        // Quantities: the number as recorded with its UCUM unit.
        #expect(xml.contains("<MeasurementUnitRef MeasurementUnitOID=\"MU.10*9/L\"/>"))
        #expect(xml.contains("<MeasurementUnit OID=\"MU.g/dL\" Name=\"g/dL\">"))
        // A page of three candidates at a time joins into the same document, byte for byte.
        let paged = try odm(f, limit: 3)
        #expect(paged.pages == 6 && paged.xml == xml)
        // Only one site's subjects, users and locations.
        let site = try odm(f, site: "SITE-02").xml
        #expect(site.components(separatedBy: "<SubjectData SubjectKey=").count - 1 == 6 && !site.contains("LOC.SITE-01"))
    }

    @Test("the ODM export is well-formed XML for any text a record may hold")
    func odmWellFormed() throws {
        let f = try demo()
        let c = try f.run(.register(candidate: "NET-900", fields: ["site": "SITE-01"]))
        let seq = try #require(c["seq"]?.intValue)
        _ = try f.run(.correct(seq: Int64(seq), field: "site", value: "SITE-02", reason: "moved: <\"a&b\"> \u{1F600} 'quoted' ]]>"))
        _ = try f.run(.withdraw(candidate: "NET-900", category: .other, reason: "withdrew < & > \" ' consent"))
        let xml = try odm(f).xml
        let parser = XMLParser(data: Data(xml.utf8))
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        #expect(xml.contains("<SubjectData SubjectKey=\"NET-900\" TransactionType=\"Update\">"))
        #expect(xml.contains("<ReasonForChange>moved: &lt;\"a&amp;b\"&gt; \u{1F600} 'quoted' ]]&gt;</ReasonForChange>"))
    }

    @Test("bad paging and sizes are refused, naming the field")
    func badRequests() throws {
        let f = try demo()
        #expect(f.errorCode(.exportODM(limit: 0)) == "invalid_field")
        #expect(f.errorCode(.exportSDTMIE(through: 1_000_000)) == "invalid_field")
        for request in [#"{"cmd":"export.odm","after":-1}"#, #"{"cmd":"export.sdtm-ie","through":0}"#, #"{"cmd":"export.odm","limit":10001}"#] {
            #expect(throws: TrialGateError.self) { try Command.parse(try JSONParser.parse(request)) }
        }
        #expect(try Command.parse(try JSONParser.parse(#"{"cmd":"export.odm","after":7,"limit":2,"site":"SITE-01","through":40}"#))
                == .exportODM(through: 40, site: "SITE-01", after: 7, limit: 2))
    }
}

extension InteropExportTests {
    @Test("a monitor exports ODM and IE of their own site only")
    func monitorExportsOwnSiteOnly() throws {
        let f = try demo()
        let monitor = Principal(name: "mona", role: .monitor, sites: ["SITE-02"])
        func code(_ c: Command) -> String? {
            do { _ = try f.dispatcher.execute(c, principal: monitor); return nil } catch { return TrialGateError(error).code.rawValue }
        }
        #expect(code(.exportODM()) == "forbidden" && code(.exportSDTMIE()) == "forbidden")
        // The refusal says what to give, in the export's own words.
        do {
            _ = try f.dispatcher.execute(.exportODM(), principal: monitor)
            Issue.record("a monitor's ODM export of every site was not refused")
        } catch {
            #expect(TrialGateError(error).message == "a monitor lists exports (export.odm) of one site at a time: give site")
        }
        #expect(code(.exportODM(site: "SITE-01")) == "forbidden" && code(.exportSDTMIE(site: "SITE-01")) == "forbidden")
        #expect(code(.exportODM(site: "SITE-02")) == nil && code(.exportSDTMIE(site: "SITE-02")) == nil)
        // The FHIR export and the audit trail keep to the same sites: FHIR per site, the audit CSV one own candidate at a time.
        #expect(code(.exportFHIR(site: nil)) == "forbidden" && code(.exportFHIR(site: "SITE-01")) == "forbidden" && code(.exportFHIR(site: "SITE-02")) == nil)
        let sites = try f.store.events(types: [.candidateRegistered]).map { ($0.candidate!, $0.payload["site"]!.stringValue!) }
        let elsewhere = sites.first { $0.1 != "SITE-02" }!.0, own = sites.first { $0.1 == "SITE-02" }!.0
        #expect(code(.auditTrail(candidate: nil)) == "forbidden" && code(.auditTrail(candidate: elsewhere)) == "forbidden")
        #expect(code(.auditTrail(candidate: own)) == nil)
        let coordinator = Principal(name: "cora", role: .coordinator, sites: ["SITE-02"])
        #expect(throws: TrialGateError.self) { try f.dispatcher.execute(.exportODM(site: "SITE-02"), principal: coordinator) }
    }
}

extension InteropExportTests {
    @Test("every page folds the log up to the size the first page answered, however the log grows meanwhile")
    func pagesKeepTheirSize() throws {
        let f = try demo()
        let before = try odm(f).xml
        let first = try f.dispatcher.perform(.exportODM(limit: 5), actor: "coordinator").decode(ODMExportReply.self)
        _ = try f.run(.register(candidate: "NET-901", fields: ["site": "SITE-01"]))
        _ = try f.run(.withdraw(candidate: "NET-001", category: .lostToFollowUp, reason: "moved away"))
        var xml = first.xml, after = first.nextAfter
        while let a = after {
            let page = try f.dispatcher.perform(.exportODM(through: first.logSize, after: a, limit: 5), actor: "coordinator").decode(ODMExportReply.self)
            #expect(page.logSize == first.logSize)
            xml += page.xml
            after = page.nextAfter
        }
        #expect(xml == before)
        let now = try odm(f).xml
        #expect(now != before && now.contains("SubjectKey=\"NET-901\"") && !before.contains("SubjectKey=\"NET-901\""))
    }
}

extension InteropExportTests {
    @Test("a criterion text of any length and script becomes at most 200 printable ASCII characters in IETEST; the transport writer refuses anything else")
    func transportTextLimits() throws {
        let hostile = String(repeating: "Ki-67 ≥ 20 % — \u{202E}é\u{301}👍🏽\r\n\u{0}<", count: 40)
        let test = SDTMIE.truncated(SDTMIE.ascii(hostile))
        #expect(test.utf8.count == 200 && test.unicodeScalars.allSatisfy { (0x20...0x7E).contains($0.value) }, "\(test)")
        #expect(test.hasPrefix("Ki-67 >= 20 % - ?e???  ?<"))
        let variables = [XPTWriter.Variable(name: "IETEST", label: "Inclusion/Exclusion Criterion", numeric: false)]
        let at = UTCTimestamp("2026-07-01T00:00:00.000Z")!
        #expect(try XPTWriter(dataset: "IE", label: "IE", variables: variables, rows: [[test]], created: at).rows == [[test]])
        for bad in [test + "x", "é", "a\u{0}b"] {
            #expect(throws: TrialGateError(.invalidField, "")) { try XPTWriter(dataset: "IE", label: "IE", variables: variables, rows: [[bad]], created: at) }
        }
    }
}
