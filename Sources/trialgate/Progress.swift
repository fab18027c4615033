import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One line of progress on stderr for long work (`verify`, `replay`, `export`, `report`, `verify --bundle`, `exec`):
/// what is done, the rate and the time left, redrawn at most five times a second and cleared at the end. Shown only
/// when stderr is a terminal and `--quiet` is not given, so scripts and pipes see exactly what they saw before.
final class ProgressLine: @unchecked Sendable {
    private let label: String
    private let unit: String
    /// Whether the line is shown at all (a terminal's stderr, no `--quiet`, and for streaming commands stdout elsewhere).
    let enabled: Bool
    private let started = DispatchTime.now().uptimeNanoseconds
    private let lock = NSLock()
    private var lastDrawn: UInt64 = 0
    private var drawn = false

    /// Whether progress is shown at all: stderr is a terminal, and `--quiet` was not given.
    static func wanted(quiet: Bool) -> Bool { !quiet && isatty(STDERR_FILENO) == 1 }

    /// - Parameter streaming: the command prints its results on stdout as it goes (`export`, `exec`): the line is then
    ///   shown only when stdout is not the same terminal (a file or a pipe), so that it never cuts into those results;
    ///   `exec` also shows none for requests typed at a terminal.
    init(_ label: String, unit: String = "events", quiet: Bool, streaming: Bool = false) {
        self.label = label
        self.unit = unit
        enabled = Self.wanted(quiet: quiet) && (!streaming || isatty(STDOUT_FILENO) == 0)
    }

    /// `done` of `total` (nil: not known, as for `exec`'s input).
    func update(_ done: Int64, of total: Int64?) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = DispatchTime.now().uptimeNanoseconds
        guard now - lastDrawn >= 200_000_000 || (total != nil && done >= total!) else { return }
        lastDrawn = now
        let seconds = Double(now - started) / 1e9
        let rate = seconds > 0 ? Double(done) / seconds : 0
        var text = "\(label): \(Self.grouped(done))"
        if let total, total > 0 {
            text += " of \(Self.grouped(total)) \(unit) (\(Int(Double(done) * 100 / Double(total))) %)"
        } else {
            text += " \(unit)"
        }
        text += ", \(Self.grouped(Int64(rate))) \(unit)/s"
        if let total, rate > 0, done < total { text += ", about \(Self.duration(Double(total - done) / rate)) left" }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
        drawn = true
    }

    /// Clears the line (the result is printed on stdout after it).
    func finish() {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        drawn = false
    }

    static func grouped(_ n: Int64) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded(.up))
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min \(s % 60) s" }
        return "\(s / 3600) h \(s % 3600 / 60) min"
    }
}
