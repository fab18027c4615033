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

/// A small writer of indented XML elements into a string: the ODM export's only way of producing markup, so every
/// attribute and every text goes through `XMLText`.
struct XMLBuilder {
    private(set) var text = ""
    private var depth: Int
    private var open: [String] = []

    init(depth: Int = 0) { self.depth = depth }

    private func attributes(_ attrs: KeyValuePairs<String, String?>) -> String {
        attrs.compactMap { k, v in v.map { " \(k)=\"\(XMLText.attribute($0))\"" } }.joined()
    }

    private var indent: String { String(repeating: "  ", count: depth) }

    /// `<name a="…">` and descends; attributes whose value is nil are left out.
    mutating func start(_ name: String, _ attrs: KeyValuePairs<String, String?> = [:]) {
        text += "\(indent)<\(name)\(attributes(attrs))>\n"
        open.append(name)
        depth += 1
    }

    /// Closes the innermost open element.
    mutating func end() {
        depth -= 1
        text += "\(indent)</\(open.removeLast())>\n"
    }

    /// `<name a="…"/>`.
    mutating func empty(_ name: String, _ attrs: KeyValuePairs<String, String?> = [:]) {
        text += "\(indent)<\(name)\(attributes(attrs))/>\n"
    }

    /// `<name a="…">text</name>`.
    mutating func leaf(_ name: String, _ attrs: KeyValuePairs<String, String?> = [:], text content: String) {
        text += "\(indent)<\(name)\(attributes(attrs))>\(XMLText.content(content))</\(name)>\n"
    }

    /// `<name><TranslatedText>text</TranslatedText></name>`: ODM's translatable text (ODM 1.3.2, "TranslatedText").
    mutating func translated(_ name: String, _ content: String) {
        start(name)
        leaf("TranslatedText", ["xml:lang": "en"], text: content)
        end()
    }
}
