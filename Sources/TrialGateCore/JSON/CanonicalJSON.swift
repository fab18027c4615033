/// RFC 8785 JSON Canonicalization Scheme (JCS).
///
/// Object members are sorted by their names' UTF-16 code units, strings are escaped minimally, and numbers
/// use the ECMAScript `Number.prototype.toString` form (ECMA-262 §7.1.12.1), so that any language with a
/// JCS implementation recomputes the same bytes, and so the same hashes and signatures.
public enum CanonicalJSON {
    /// The canonical UTF-8 bytes of `value`.
    public static func encode(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, into: &out)
        return out
    }

    /// The canonical form of `value` as a string.
    public static func string(_ value: JSONValue) -> String {
        String(decoding: encode(value), as: UTF8.self)
    }

    /// Appends the canonical bytes of `value` to `out`.
    public static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(true): out.append(contentsOf: [0x74, 0x72, 0x75, 0x65])
        case .bool(false): out.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65])
        case .number(let n):
            if n.rounded(.towardZero) == n, abs(n) < 1e15 {
                writeInteger(Int64(n), into: &out)
            } else {
                out.append(contentsOf: formatNumber(n).utf8)
            }
        case .string(let s): writeString(s, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            let keys = members.keys.sorted(by: precedes)
            for (i, key) in keys.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(members[key]!, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func writeInteger(_ value: Int64, into out: inout [UInt8]) {
        if value == 0 { out.append(UInt8(ascii: "0")); return }
        var v = value
        if v < 0 { out.append(UInt8(ascii: "-")); v = -v }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buf in
            while v > 0 {
                buf[count] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                count += 1
            }
            for i in stride(from: count - 1, through: 0, by: -1) { out.append(buf[i]) }
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        var s = s
        s.withUTF8 { bytes in
            // Fast path: most strings need no escaping and are copied in one go.
            var start = 0
            for i in 0..<bytes.count {
                let byte = bytes[i]
                guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i]))
                start = i + 1
                switch byte {
                case 0x22: out.append(0x5C); out.append(0x22)
                case 0x5C: out.append(0x5C); out.append(0x5C)
                case 0x08: out.append(0x5C); out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(0x5C); out.append(UInt8(ascii: "f"))
                case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
                case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
                default:
                    out.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                    out.append(hexDigits[Int(byte >> 4)])
                    out.append(hexDigits[Int(byte & 0xF)])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<bytes.count]))
        }
        out.append(0x22)
    }

    /// RFC 8785 §3.2.3 order: by UTF-16 code units. UTF-8 byte order is the same except where a character
    /// above U+FFFF meets one in U+E000–U+FFFF, so the cheap byte comparison is used unless such bytes occur.
    static func precedes(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        let (less, needsUTF16) = a.withUTF8 { x in
            b.withUTF8 { y -> (Bool, Bool) in
                let n = min(x.count, y.count)
                var i = 0
                while i < n, x[i] == y[i] { i += 1 }
                if i == n { return (x.count < y.count, false) }
                // Differing lead bytes at or above 0xEE may order differently in UTF-16.
                if x[i] >= 0xEE && y[i] >= 0xEE { return (false, true) }
                return (x[i] < y[i], false)
            }
        }
        return needsUTF16 ? a.utf16.lexicographicallyPrecedes(b.utf16) : less
    }

    /// Formats a finite double as ECMAScript's `Number.prototype.toString` does.
    ///
    /// Swift's `description` already yields the shortest digits that round-trip; only the layout differs.
    public static func formatNumber(_ value: Double) -> String {
        precondition(value.isFinite, "JSON has no representation for non-finite numbers")
        if value == 0 { return "0" }
        if value < 0 { return "-" + formatNumber(-value) }
        if value < 9_007_199_254_740_992, value.rounded(.towardZero) == value { return String(Int64(value)) }
        // A fraction of at least 1e-4 is written by Swift with the same shortest digits as ECMAScript, in
        // plain decimal notation: nothing to lay out again.
        if value >= 1e-4, value.rounded(.towardZero) != value {
            let text = value.description
            if !text.utf8.contains(UInt8(ascii: "e")) { return text }
        }
        let (digits, n) = decimalDigits(value)
        let k = digits.count
        if k <= n && n <= 21 { return digits + String(repeating: "0", count: n - k) }
        if 0 < n && n <= 21 {
            let i = digits.index(digits.startIndex, offsetBy: n)
            return digits[..<i] + "." + digits[i...]
        }
        if -6 < n && n <= 0 { return "0." + String(repeating: "0", count: -n) + digits }
        let e = n - 1
        let exponent = (e >= 0 ? "e+" : "e-") + String(abs(e))
        if k == 1 { return digits + exponent }
        return String(digits.first!) + "." + digits.dropFirst() + exponent
    }

    /// The shortest significant digits `s` and exponent `n` with value = 0.s × 10^n.
    private static func decimalDigits(_ value: Double) -> (String, Int) {
        let text = value.description
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...])!
        }
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        let intPart = parts[0]
        let fracPart = parts.count > 1 ? parts[1] : ""
        var digits = Array(intPart + fracPart)
        var point = intPart.count + exponent
        while let first = digits.first, first == "0" { digits.removeFirst(); point -= 1 }
        while let last = digits.last, last == "0" { digits.removeLast() }
        return (String(digits), point)
    }
}
