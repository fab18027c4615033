import TrialGateCore

/// The SDTM IE domain (Inclusion/Exclusion Criteria Not Met, SDTMIG 3.x section 6.3): one record per criterion a
/// candidate does not meet, from the candidate's newest decision.
///
/// Which decision counts: the newest (`CandidateState.latestDecision`), the one every view calls current; every
/// earlier decision is superseded. Only an investigator's sign-off of the newest decision, while it is not stale,
/// confirms an outcome (`ScreeningStatus.confirmed`), so a confirmed decision, when there is one, is that same
/// decision. A criterion is "not met" when its result is `fail`: an inclusion that does not hold (`IEORRES` `N`) or
/// an exclusion that applies (`Y`). `unknown` and `needs_attestation` are not results a protocol deviation can be
/// recorded for, and `skipped` criteria were not assessed; none of them gives a record.
public enum SDTMIE {
    /// The IE variables in SDTMIG order, with their labels (SDTMIG 3.x, IE domain specification) and whether each
    /// is numeric.
    public static let variables: [(name: String, label: String, numeric: Bool)] = [
        ("STUDYID", "Study Identifier", false),
        ("DOMAIN", "Domain Abbreviation", false),
        ("USUBJID", "Unique Subject Identifier", false),
        ("IESEQ", "Sequence Number", true),
        ("IESPID", "Sponsor-Defined Identifier", false),
        ("IETESTCD", "Inclusion/Exclusion Criterion Short Name", false),
        ("IETEST", "Inclusion/Exclusion Criterion", false),
        ("IECAT", "Inclusion/Exclusion Category", false),
        ("IEORRES", "I/E Criterion Original Result", false),
        ("IESTRESC", "I/E Criterion Result in Std Format", false),
        ("IEDTC", "Date/Time of Collection", false),
    ]

    /// The longest value a character variable of a SAS version 5 transport file holds, and so `IETEST`'s limit.
    static let maximumLength = 200

    /// The IE records of `candidates` (in the order given), their policies read from `policies` as published.
    static func rows(_ candidates: [CandidateState], trialID: String, policies: [PublishedPolicy]) -> [IERecord] {
        var loaded: [Int64: Policy] = [:]
        var out: [IERecord] = []
        for c in candidates {
            guard let d = c.latestDecision,
                  let published = policies.last(where: { $0.id == d.policyID && $0.version == d.policyVersion && $0.seq < d.seq })
            else { continue }
            if loaded[published.seq] == nil { loaded[published.seq] = try? PolicyLoader.load(published.text) }
            guard let policy = loaded[published.seq] else { continue }
            let codes = policy.sdtmTestCodes
            var seq = 0
            for criterion in policy.criteria where d.results[criterion.id] == CriterionStatus.fail.rawValue {
                seq += 1
                let result = criterion.kind == .inclusion ? "N" : "Y"
                out.append(IERecord(studyID: ascii(trialID), usubjID: ascii("\(trialID)-\(c.id)"), seq: seq, spID: ascii(criterion.id),
                                    testCode: codes[criterion.id]!, test: truncated(ascii(criterion.description)),
                                    category: criterion.kind == .inclusion ? "INCLUSION" : "EXCLUSION", originalResult: result,
                                    standardResult: result, dateTime: isoSeconds(d.timestamp)))
            }
        }
        return out
    }

    /// `text` cut to `maximumLength` characters, without trailing blanks (a transport file cannot keep them).
    static func truncated(_ text: String) -> String {
        var cut = Substring(text.prefix(maximumLength))
        while cut.last == " " { cut.removeLast() }
        return String(cut)
    }

    /// `2026-11-26T23:10:14`: an ISO 8601 date and time (SDTMIG 3.x section 4.4, "--DTC"), in UTC, to the second.
    static func isoSeconds(_ t: UTCTimestamp) -> String { String(t.description.prefix(19)) }

    /// `text` in printable ASCII, as FDA's Study Data Technical Conformance Guide asks of SAS transport files: the
    /// common typographic characters the policies use spelled out (`≥` as `>=`, `–` as `-`, `×` as `x`, `µ` as `u`),
    /// line breaks and tabs as spaces, anything else as `?`.
    static func ascii(_ text: String) -> String {
        var out = ""
        for s in text.unicodeScalars {
            switch s.value {
            case 0x20...0x7E: out.unicodeScalars.append(s)
            case 0x09, 0x0A, 0x0D: out += " "
            default: out += replacements[s] ?? "?"
            }
        }
        return out
    }

    private static let replacements: [Unicode.Scalar: String] = [
        "≥": ">=", "≤": "<=", "≠": "!=", "–": "-", "—": "-", "−": "-", "‑": "-", "×": "x", "µ": "u", "μ": "u",
        "‘": "'", "’": "'", "“": "\"", "”": "\"", "…": "...", "°": " deg", "±": "+/-", "·": ".", "\u{00A0}": " ",
        "²": "2", "³": "3", "¹": "1", "½": "1/2", "é": "e", "è": "e", "ë": "e", "ï": "i", "ö": "o", "ü": "u", "ä": "a",
    ]

    /// RFC 4180 CSV of `records` with the variable names as its header: the same values the transport file holds.
    public static func csv(_ records: [IERecord]) -> String {
        ScreeningReport.csv([variables.map(\.name)] + records.map(\.values))
    }

    /// The SAS version 5 transport file of `records`: dataset `IE`, the variables of `variables` with their SDTMIG
    /// labels, made at `created` (the log's newest event, so that the same log gives the same bytes).
    /// - Throws: `invalid_field` if a value cannot be held (longer than 200 characters or not printable ASCII).
    public static func transport(_ records: [IERecord], created: UTCTimestamp) throws -> [UInt8] {
        try XPTWriter(dataset: "IE", label: "Inclusion/Exclusion Criteria Not Met",
                      variables: variables.map { XPTWriter.Variable(name: $0.name, label: $0.label, numeric: $0.numeric) },
                      rows: records.map(\.values), created: created).bytes()
    }
}
