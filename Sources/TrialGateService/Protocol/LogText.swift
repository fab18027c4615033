import Logging

extension Logger.MetadataValue {
    /// A string a client or a file chose, made safe for a line-oriented log: quoted, with every control character,
    /// line or paragraph separator and bidirectional override written as a JSON escape. A value can then never end
    /// the log line it is in, start a forged one, or reorder what a terminal shows.
    public static func untrusted(_ text: String) -> Logger.MetadataValue {
        .string(LogText.quoted(text))
    }

    /// An error's description, which may repeat what a client sent.
    public static func untrusted(_ error: any Error) -> Logger.MetadataValue {
        .untrusted("\(error)")
    }
}

/// The escaping behind `Logger.MetadataValue.untrusted`.
public enum LogText {
    /// `text` as a JSON string literal (RFC 8259 §7), with the separators and format characters JSON allows raw
    /// (U+0085, U+2028, U+2029, U+200E–U+200F, U+202A–U+202E, U+2066–U+2069) escaped too.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                let v = scalar.value
                if v < 0x20 || v == 0x7F || (0x80...0x9F).contains(v) || v == 0x2028 || v == 0x2029
                    || (0x200E...0x200F).contains(v) || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v) {
                    let hex = String(v, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
