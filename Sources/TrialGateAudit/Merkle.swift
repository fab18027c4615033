import Crypto
import Foundation

/// Where a Merkle computation reads the hash of a perfect subtree: `level` 0 is a leaf hash, and node
/// (`level`, `index`) covers leaves `index·2^level ..< (index+1)·2^level`.
public protocol MerkleNodeSource {
    func node(level: Int, index: Int64) throws -> [UInt8]
}

/// Why a Merkle proof was refused.
public struct MerkleError: Error, Equatable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// The Merkle tree hash of RFC 6962 §2.1 / RFC 9162 §2.1 over the log, its proofs and their verification.
///
/// Leaf hash = SHA-256(0x00 ‖ canonical event bytes), node hash = SHA-256(0x01 ‖ left ‖ right), and the
/// root of the empty tree is SHA-256 of nothing. The log stores every perfect subtree's hash when it is
/// completed, so the root at any size and any proof need O(log² n) stored hashes, never a rebuild.
public enum Merkle {
    public static let hashSize = 32

    /// SHA-256 of the empty string: the root of a tree with no leaves.
    public static let emptyRoot: [UInt8] = Array(SHA256.hash(data: [UInt8]()))

    public static func leafHash<D: DataProtocol>(_ data: D) -> [UInt8] {
        var h = SHA256()
        h.update(data: [0x00])
        h.update(data: data)
        return Array(h.finalize())
    }

    public static func nodeHash(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        var h = SHA256()
        h.update(data: [0x01])
        h.update(data: left)
        h.update(data: right)
        return Array(h.finalize())
    }

    /// The largest power of two strictly below `n` (n ≥ 2).
    static func split(_ n: Int64) -> Int64 {
        var k: Int64 = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// The hash of leaves `start ..< end`, where `start` is a multiple of the largest power of two not
    /// above `end - start` (true of every subtree the RFC's recursion visits).
    public static func subtreeHash(_ start: Int64, _ end: Int64, _ nodes: some MerkleNodeSource) throws -> [UInt8] {
        let n = end - start
        precondition(n >= 1, "empty subtree")
        if n & (n - 1) == 0 {
            let level = n.trailingZeroBitCount
            return try nodes.node(level: level, index: start >> level)
        }
        let k = split(n)
        return nodeHash(try subtreeHash(start, start + k, nodes), try subtreeHash(start + k, end, nodes))
    }

    /// MTH of the first `size` leaves.
    public static func root(size: Int64, _ nodes: some MerkleNodeSource) throws -> [UInt8] {
        size == 0 ? emptyRoot : try subtreeHash(0, size, nodes)
    }

    /// The audit path of leaf `index` in the tree of the first `size` leaves (RFC 6962 §2.1.1, PATH).
    public static func inclusionProof(index: Int64, size: Int64, _ nodes: some MerkleNodeSource) throws -> [[UInt8]] {
        guard index >= 0, index < size else { throw MerkleError("leaf index \(index) is not below tree size \(size)") }
        var proof: [[UInt8]] = []
        // Walk down from the root; record siblings, then reverse (the path lists them leaf first).
        var (start, end, m) = (Int64(0), size, index)
        while end - start > 1 {
            let k = split(end - start)
            if m < k {
                proof.append(try subtreeHash(start + k, end, nodes))
                end = start + k
            } else {
                proof.append(try subtreeHash(start, start + k, nodes))
                start += k
                m -= k
            }
        }
        return proof.reversed()
    }

    /// The consistency proof between the trees of the first `from` and `to` leaves (RFC 6962 §2.1.2, PROOF).
    public static func consistencyProof(from m: Int64, to n: Int64, _ nodes: some MerkleNodeSource) throws -> [[UInt8]] {
        guard m >= 1 else { throw MerkleError("a consistency proof needs a first size of at least 1, got \(m)") }
        guard m <= n else { throw MerkleError("first size \(m) is larger than second size \(n)") }
        if m == n { return [] }
        // SUBPROOF(m, D[start:end], b), unrolled: siblings are collected root first, so reverse at the end.
        var proof: [[UInt8]] = []
        var (start, end, mm, complete) = (Int64(0), n, m, true)
        while true {
            let size = end - start
            if mm == size {
                if !complete { proof.append(try subtreeHash(start, end, nodes)) }
                break
            }
            let k = split(size)
            if mm <= k {
                proof.append(try subtreeHash(start + k, end, nodes))
                end = start + k
            } else {
                proof.append(try subtreeHash(start, start + k, nodes))
                start += k
                mm -= k
                complete = false
            }
        }
        return proof.reversed()
    }

    /// Checks an inclusion proof (RFC 9162 §2.1.3.2). Throws naming what is wrong.
    public static func verifyInclusion(index: Int64, size: Int64, leafHash: [UInt8], proof: [[UInt8]], root: [UInt8]) throws {
        guard index >= 0, index < size else { throw MerkleError("leaf index \(index) is not below tree size \(size)") }
        guard leafHash.count == hashSize else { throw MerkleError("leaf hash is \(leafHash.count) bytes, not 32") }
        guard proof.allSatisfy({ $0.count == hashSize }) else { throw MerkleError("a proof hash is not 32 bytes") }
        var (fn, sn, r) = (index, size - 1, leafHash)
        for p in proof {
            guard sn != 0 else { throw MerkleError("inclusion proof has \(proof.count) hashes: too many for size \(size)") }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw MerkleError("inclusion proof has \(proof.count) hashes: too few for size \(size)") }
        guard r == root else { throw MerkleError("inclusion proof does not lead to the root") }
    }

    /// Checks a consistency proof (RFC 9162 §2.1.4.2). Throws naming what is wrong.
    public static func verifyConsistency(size1: Int64, size2: Int64, root1: [UInt8], root2: [UInt8], proof: [[UInt8]]) throws {
        guard size1 >= 1 else { throw MerkleError("consistency from an empty tree proves nothing (first size \(size1))") }
        guard size1 <= size2 else { throw MerkleError("first size \(size1) is larger than second size \(size2)") }
        guard proof.allSatisfy({ $0.count == hashSize }) else { throw MerkleError("a proof hash is not 32 bytes") }
        if size1 == size2 {
            guard proof.isEmpty else { throw MerkleError("equal sizes need an empty proof") }
            guard root1 == root2 else { throw MerkleError("equal sizes but different roots") }
            return
        }
        guard !proof.isEmpty else { throw MerkleError("consistency proof is empty") }
        var path = proof
        if size1 & (size1 - 1) == 0 { path.insert(root1, at: 0) }
        var fn = size1 - 1, sn = size2 - 1
        while fn & 1 == 1 { fn >>= 1; sn >>= 1 }
        var fr = path[0], sr = path[0]
        for c in path.dropFirst() {
            guard sn != 0 else { throw MerkleError("consistency proof has too many hashes") }
            if fn & 1 == 1 || fn == sn {
                fr = nodeHash(c, fr)
                sr = nodeHash(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                sr = nodeHash(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw MerkleError("consistency proof has too few hashes") }
        guard fr == root1 else { throw MerkleError("consistency proof does not lead to the first root") }
        guard sr == root2 else { throw MerkleError("consistency proof does not lead to the second root") }
    }

    /// The nodes that appending leaf `index` (with hash `leaf`) completes: the leaf itself, then each parent
    /// whose right child it finishes. `left(level, index)` reads an already stored left sibling.
    public static func nodesCompleted(byLeaf index: Int64, hash leaf: [UInt8],
                                      left: (Int, Int64) throws -> [UInt8]) rethrows -> [(level: Int, index: Int64, hash: [UInt8])] {
        var out = [(level: 0, index: index, hash: leaf)]
        var (level, i, h) = (0, index, leaf)
        while i & 1 == 1 {
            h = nodeHash(try left(level, i - 1), h)
            level += 1
            i >>= 1
            out.append((level, i, h))
        }
        return out
    }
}

/// An in-memory tree for a verifier walking a log front to back: keeps only the right border (one hash
/// per level), gives the root at the current size, and can answer inclusion of leaves it still holds.
public struct MerkleFrontier {
    /// `border[level]` is the hash of the perfect subtree at that level on the right edge, if the size has that bit.
    private var border: [[UInt8]?] = []
    public private(set) var size: Int64 = 0

    public init() {}

    /// The border of the tree of the first `size` leaves, read from stored perfect subtrees (one per set bit).
    public init(size: Int64, nodes: some MerkleNodeSource) throws {
        var start: Int64 = 0
        for level in stride(from: 62, through: 0, by: -1) where size >> level & 1 == 1 {
            while border.count <= level { border.append(nil) }
            border[level] = try nodes.node(level: level, index: start >> level)
            start += 1 << level
        }
        self.size = size
    }

    public mutating func append(leafHash: [UInt8]) {
        _ = appendReturningNodes(leafHash: leafHash)
    }

    /// Appends a leaf and returns the nodes it completes (the leaf itself first), for storing.
    public mutating func appendReturningNodes(leafHash: [UInt8]) -> [(level: Int, index: Int64, hash: [UInt8])] {
        var completed = [(level: 0, index: size, hash: leafHash)]
        var h = leafHash
        var level = 0
        var index = size
        while level < border.count, let left = border[level] {
            h = Merkle.nodeHash(left, h)
            border[level] = nil
            level += 1
            index >>= 1
            completed.append((level, index, h))
        }
        if level == border.count { border.append(h) } else { border[level] = h }
        size += 1
        return completed
    }

    /// MTH at the current size: the border's subtrees folded from the smallest up.
    public var root: [UInt8] {
        var acc: [UInt8]?
        for h in border {
            guard let h else { continue }
            acc = acc.map { Merkle.nodeHash(h, $0) } ?? h
        }
        return acc ?? Merkle.emptyRoot
    }
}

/// A whole tree in memory, level by level: for exporters and verifiers that walk a log once and then
/// answer many proofs (32 bytes per leaf, about twice that in all).
public struct MerkleMemoryTree: MerkleNodeSource {
    private var levels: [[[UInt8]]] = [[]]

    public init() {}

    public var size: Int64 { Int64(levels[0].count) }

    public mutating func append(leafHash: [UInt8]) {
        let index = Int64(levels[0].count)
        let nodes = Merkle.nodesCompleted(byLeaf: index, hash: leafHash) { level, i in levels[level][Int(i)] }
        for n in nodes {
            if levels.count <= n.level { levels.append([]) }
            levels[n.level].append(n.hash)
        }
    }

    public func node(level: Int, index: Int64) throws -> [UInt8] {
        guard level < levels.count, index >= 0, index < levels[level].count else {
            throw MerkleError("no node at level \(level), index \(index) in a tree of \(size) leaves")
        }
        return levels[level][Int(index)]
    }
}
