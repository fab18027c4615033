import TrialGateCore

/// A SAS version 5 transport file (XPORT) of one dataset, written from its variables and rows, as laid out in SAS
/// Technical Support document TS-140 ("The record layout of a SAS transport file"): 80-byte records; a library
/// header, a member header, a descriptor of 140-byte `NAMESTR` records (one per variable), then the observations,
/// each variable at its offset: numbers as IBM doubles (`IBMFloat`), text in printable ASCII padded with blanks;
/// the last record of each part padded with blanks to 80 bytes.
public struct XPTWriter {
    /// A variable: its name (1 to 8 letters, digits or `_`, not starting with a digit), label (at most 40
    /// characters), and whether it is numeric; a character variable's length is its longest value (at least 1, at
    /// most 200).
    public struct Variable {
        public let name: String
        public let label: String
        public let numeric: Bool

        public init(name: String, label: String, numeric: Bool) { (self.name, self.label, self.numeric) = (name, label, numeric) }
    }

    public let dataset: String
    public let label: String
    public let variables: [Variable]
    /// Every row's values as text, in the order of `variables`; a numeric variable's value is a decimal number.
    public let rows: [[String]]
    /// When the file was made, `ddMMMyy:hh:mm:ss` (`01DEC26:04:25:09`).
    public let created: String

    /// - Throws: `invalid_field` naming the variable or value that a version 5 transport file cannot hold.
    public init(dataset: String, label: String, variables: [Variable], rows: [[String]], created: UTCTimestamp) throws {
        for name in [dataset] + variables.map(\.name) where !Self.isSASName(name) {
            throw TrialGateError(.invalidField, "\"\(name)\" cannot be a SAS version 5 name: 1 to 8 letters, digits or _, not starting with a digit")
        }
        if label.utf8.count > 40 { throw TrialGateError(.invalidField, "dataset label \"\(label)\" is longer than 40 characters") }
        for v in variables {
            if v.label.utf8.count > 40 || !v.label.unicodeScalars.allSatisfy({ (0x20...0x7E).contains($0.value) }) {
                throw TrialGateError(.invalidField, "label of \(v.name), \"\(v.label)\", must be at most 40 printable ASCII characters")
            }
        }
        for row in rows {
            guard row.count == variables.count else { throw TrialGateError(.invalidField, "a row has \(row.count) values for \(variables.count) variables") }
            for (v, value) in zip(variables, row) {
                if v.numeric {
                    guard Double(value) != nil else { throw TrialGateError(.invalidField, "\(v.name) must be a number, got \"\(value)\"") }
                } else if value.utf8.count > SDTMIE.maximumLength || !value.unicodeScalars.allSatisfy({ (0x20...0x7E).contains($0.value) }) {
                    throw TrialGateError(.invalidField, "\(v.name) must be at most \(SDTMIE.maximumLength) printable ASCII characters, got \"\(value)\"")
                }
            }
        }
        (self.dataset, self.label, self.variables, self.rows) = (dataset, label, variables, rows)
        let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
        let d = created.description  // 2026-12-01T04:25:09.123Z
        let chars = Array(d)
        let month = months[Int(String(chars[5...6]))! - 1]
        self.created = "\(String(chars[8...9]))\(month)\(String(chars[2...3])):\(String(chars[11...18]))"
    }

    /// Whether `name` is a SAS version 5 name: 1 to 8 ASCII letters, digits or `_`, not starting with a digit.
    public static func isSASName(_ name: String) -> Bool {
        let u = Array(name.utf8)
        guard (1...8).contains(u.count), !(0x30...0x39).contains(u[0]) else { return false }
        return u.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x5F }
    }

    /// Each variable's length in bytes: 8 for a number, the longest value (at least 1) for text.
    public var lengths: [Int] {
        variables.indices.map { i in variables[i].numeric ? 8 : max(1, rows.map { $0[i].utf8.count }.max() ?? 1) }
    }

    /// The file's bytes.
    public func bytes() -> [UInt8] {
        var out: [UInt8] = []
        func text(_ s: String, _ width: Int) -> [UInt8] { Array((s + String(repeating: " ", count: max(0, width - s.utf8.count))).utf8.prefix(width)) }
        func record(_ s: String) { out += text(s, 80) }
        func short(_ v: Int) -> [UInt8] { [UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)] }
        func long(_ v: Int) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: v >> $0) } }
        func pad() { while out.count % 80 != 0 { out.append(0x20) } }

        record("HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!000000000000000000000000000000")
        record(text("SAS", 8).string + text("SAS", 8).string + text("SASLIB", 8).string + text("6.06", 8).string + text("bsd4.2", 8).string
               + String(repeating: " ", count: 24) + created)
        record(created)
        record("HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!000000000000000001600000000140")
        record("HEADER RECORD*******DSCRPTR HEADER RECORD!!!!!!!000000000000000000000000000000")
        record(text("SAS", 8).string + text(dataset, 8).string + text("SASDATA", 8).string + text("6.06", 8).string + text("bsd4.2", 8).string
               + String(repeating: " ", count: 24) + created)
        record(created + String(repeating: " ", count: 16) + text(label, 40).string + text("", 8).string)
        let count = String(variables.count)
        record("HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!000000" + String(repeating: "0", count: 4 - count.count) + count + "00000000000000000000")
        let lengths = self.lengths
        var position = 0
        for (i, v) in variables.enumerated() {
            var namestr: [UInt8] = []
            namestr += short(v.numeric ? 1 : 2)  // ntype
            namestr += short(0)  // nhfun
            namestr += short(lengths[i])  // nlng
            namestr += short(i + 1)  // nvar0
            namestr += text(v.name, 8)
            namestr += text(v.label, 40)
            namestr += text("", 8)  // nform
            namestr += short(0) + short(0) + short(v.numeric ? 0 : 1)  // nfl, nfd, nfj (text left-justified)
            namestr += [0, 0]  // nfill
            namestr += text("", 8)  // niform
            namestr += short(0) + short(0)  // nifl, nifd
            namestr += long(position)  // npos
            namestr += [UInt8](repeating: 0, count: 52)  // rest
            out += namestr
            position += lengths[i]
        }
        pad()
        record("HEADER RECORD*******OBS     HEADER RECORD!!!!!!!000000000000000000000000000000")
        for row in rows {
            for (i, v) in variables.enumerated() {
                out += v.numeric ? IBMFloat.bytes(Double(row[i])!) : text(row[i], lengths[i])
            }
        }
        pad()
        return out
    }
}

extension Array where Element == UInt8 {
    fileprivate var string: String { String(decoding: self, as: UTF8.self) }
}
