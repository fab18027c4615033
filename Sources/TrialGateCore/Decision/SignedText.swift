/// Rules for the text people sign and the encodings of what they sign with.
public enum SignedText {
    /// Characters that change how text is shown without being seen: bidirectional embeddings, overrides and
    /// isolates, zero-width characters, the word joiner and the byte-order mark.
    static func isInvisible(_ u: Unicode.Scalar) -> Bool {
        (0x200B...0x200F).contains(u.value) || (0x202A...0x202E).contains(u.value) || (0x2060...0x2069).contains(u.value) || u.value == 0xFEFF
    }

    /// Why `text` cannot be signed text, or nil: 1 to `maxLength` characters (Unicode code points, so combining
    /// marks count and the size is bounded), not blank, no control characters (newlines only when `multiline`), no
    /// invisible or direction-changing ones.
    public static func problem(_ text: String, maxLength: Int, multiline: Bool) -> String? {
        let count = text.unicodeScalars.count
        if count > maxLength { return "at most \(maxLength) characters, got \(count)" }
        for u in text.unicodeScalars {
            if u == "\n", multiline { continue }
            if u.value < 0x20 || (0x7F...0x9F).contains(u.value) || u == "\u{2028}" || u == "\u{2029}" {
                return multiline ? "no control characters but newlines" : "one line, without control characters"
            }
            if isInvisible(u) { return "no invisible or direction-changing characters (U+\(String(u.value, radix: 16, uppercase: true)))" }
        }
        if text.unicodeScalars.allSatisfy({ $0.properties.isWhitespace }) { return "not blank" }
        return nil
    }

    /// `text` as names are compared: lowercased, every run of white space (of any kind) one space, none around it,
    /// so that names that print alike compare alike.
    public static func folded(_ text: String) -> String {
        var out = ""
        var pendingSpace = false
        for u in text.lowercased().unicodeScalars {
            if u.properties.isWhitespace { pendingSpace = !out.isEmpty; continue }
            if pendingSpace { out.append(" "); pendingSpace = false }
            out.unicodeScalars.append(u)
        }
        return out
    }

    /// Whether `text` is the one canonical standard base64 spelling of exactly `bytes` bytes (padded, the spare bits
    /// of the last character zero), so that one key or signature cannot be written two ways.
    public static func isCanonicalBase64(_ text: String, bytes: Int) -> Bool {
        let u = Array(text.utf8)
        let padding = (3 - bytes % 3) % 3
        guard u.count == (bytes + 2) / 3 * 4, u.suffix(padding).allSatisfy({ $0 == UInt8(ascii: "=") }) else { return false }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x41...0x5A: c - 0x41
            case 0x61...0x7A: c - 0x61 + 26
            case 0x30...0x39: c - 0x30 + 52
            case 0x2B: 62
            case 0x2F: 63
            default: nil
            }
        }
        let values = u.dropLast(padding).map(value)
        guard values.allSatisfy({ $0 != nil }), let last = values.last ?? nil else { return false }
        let spareBits = padding * 2
        return last & UInt8((1 << spareBits) - 1) == 0
    }
}
