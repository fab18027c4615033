extension Policy {
    /// Each criterion's SDTM test code (`IETESTCD`, SDTMIG 3.x, IE domain), by criterion id: `I` for an inclusion
    /// criterion and `E` for an exclusion, then its position among the policy's criteria of that kind, counted from 1
    /// and written with at least two digits (`I01`, `I02`, …, `E01`). Disabled criteria keep their number, so enabling
    /// one never renumbers the others.
    ///
    /// A code is at most 8 characters (the SAS version 5 transport limit on names, which SDTM test codes keep), starts
    /// with a letter and holds only letters and digits, and no two criteria of a policy share one: the letter tells the
    /// kinds apart and the number the criteria of one kind. A policy's criterion ids cannot be used as they are:
    /// several share a prefix (`I3-grade`, `I3-advanced`) and most are longer than 8 characters.
    public var sdtmTestCodes: [String: String] {
        var counts: [CriterionKind: Int] = [:]
        var codes: [String: String] = [:]
        for c in criteria {
            counts[c.kind, default: 0] += 1
            let n = counts[c.kind]!
            codes[c.id] = (c.kind == .inclusion ? "I" : "E") + (n < 10 ? "0\(n)" : String(n))
        }
        return codes
    }
}
