import ArgumentParser
import Foundation

/// One figure: this machine's durable SQLite commit latency right now.
struct FsyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsync",
        abstract: "This machine's durable SQLite commit latency right now: five rounds of 100 commits, median, min and max."
    )

    @OptionGroup var options: BenchOptions

    func run() throws {
        // A directory of its own inside --dir: a server's or a kept run's stores there stay as they are.
        let created = !FileManager.default.fileExists(atPath: options.directory)
        let dir = options.directory + "/fsync-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer {
            if !options.keep {
                try? FileManager.default.removeItem(atPath: dir)
                if created { try? FileManager.default.removeItem(atPath: options.directory) }
            }
        }
        var samples: [Double] = []
        for _ in 0..<5 { samples.append(fsyncBaseline(100, in: dir)) }
        samples.sort()
        print(String(format: "fsync_commit_ms median=%.3f min=%.3f max=%.3f", samples[2] * 1000, samples[0] * 1000, samples[4] * 1000))
    }
}
