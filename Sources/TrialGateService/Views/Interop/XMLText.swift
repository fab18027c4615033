/// XML 1.0 text as the interoperability exports write it: any Unicode string escaped for element content or an
/// attribute value (W3C XML 1.0, 2.4 "Character Data and Markup" and 3.3.3 "Attribute-Value Normalization").
///
/// XML 1.0 cannot carry every code point even escaped (section 2.2, `Char`): C0 controls other than tab, line feed
/// and carriage return, unpaired surrogates and U+FFFE/U+FFFF. Those are written as U+FFFD, the replacement
/// character, so a log holding one (a record of schema 1 could) still exports a well-formed document.
enum XMLText {
    /// `text` escaped for an attribute value in double quotes: `&`, `<`, `"` and `>` as entities, and tab, line feed
    /// and carriage return as character references so that attribute-value normalisation keeps them.
    static func attribute(_ text: String) -> String { escape(text, attribute: true) }

    /// `text` escaped for element content: `&`, `<` and `>` as entities (a carriage return as `&#13;`, which a parser
    /// would otherwise turn into a line feed).
    static func content(_ text: String) -> String { escape(text, attribute: false) }

    private static func escape(_ text: String, attribute: Bool) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"" where attribute: out += "&quot;"
            case "\t" where attribute: out += "&#9;"
            case "\n" where attribute: out += "&#10;"
            case "\r": out += "&#13;"
            default:
                out.unicodeScalars.append(isXMLChar(scalar) ? scalar : "\u{FFFD}")
            }
        }
        return out
    }

    /// XML 1.0's `Char` production.
    static func isXMLChar(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x9, 0xA, 0xD: true
        case 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: true
        default: false
        }
    }
}
