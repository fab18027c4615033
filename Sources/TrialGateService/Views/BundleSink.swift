import Foundation
import TrialGateCore

/// Where an audit bundle's files go. Paths are relative, with `/` separators.
public protocol BundleSink {
    /// Creates or replaces a file.
    func write(_ path: String, _ bytes: [UInt8]) throws
    /// Appends to a file created by `write`.
    func append(_ path: String, _ bytes: [UInt8]) throws
}

/// Writes bundle files under a directory (the CLI's `export --out`, the benchmark, the tests).
public struct DirectoryBundleSink: BundleSink {
    public let root: URL

    public init(root: URL) { self.root = root }

    public func write(_ path: String, _ bytes: [UInt8]) throws {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: url.path, contents: Data(bytes)) else {
            throw TrialGateError(.fileUnwritable, "cannot write \(url.path)")
        }
    }

    public func append(_ path: String, _ bytes: [UInt8]) throws {
        let handle = try FileHandle(forWritingTo: root.appendingPathComponent(path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(bytes))
    }
}
