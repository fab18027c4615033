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
