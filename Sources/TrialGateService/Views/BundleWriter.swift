import Crypto
import TrialGateAudit
import TrialGateCore

/// Writes an audit bundle's files to a sink, keeping the SHA-256 of each for the manifest.
final class BundleWriter {
    let sink: BundleSink
    private var digests: [String: SHA256] = [:]

    init(sink: BundleSink) { self.sink = sink }

    /// Creates or replaces a file, and starts its digest.
    func write(_ path: String, _ bytes: [UInt8]) throws {
        var h = SHA256()
        h.update(data: bytes)
        digests[path] = h
        try sink.write(path, bytes)
    }

    /// Appends to a file created by `write`, and to its digest.
    func append(_ path: String, _ bytes: [UInt8]) throws {
        digests[path]!.update(data: bytes)
        try sink.append(path, bytes)
    }

    /// Each file written, with its SHA-256 in hex: the manifest's `files`.
    var manifestFiles: [String: String] {
        var files: [String: String] = [:]
        for (path, h) in digests { files[path] = Digest.hex(h.finalize()) }
        return files
    }
}
