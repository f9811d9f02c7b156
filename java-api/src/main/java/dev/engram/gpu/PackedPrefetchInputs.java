package dev.engram.gpu;

import dev.engram.PackedBatch;
import dev.engram.hash.NgramHasher;
import dev.engram.tokenizer.CompressionTable;

import java.util.stream.IntStream;

/**
 * The host side of a {@link HostTableLayer}'s packed prefetches, in arrays made once and reused, so a decode step
 * allocates no buffer: the compressed ids, the sequences' history rows (read from the state's host history), the hash
 * ids (CPU path), and the identity batch the zero-copy gather is given (sequence {@code s} in slot {@code s},
 * continuing, reading history row {@code s}). Not thread-safe.
 */
final class PackedPrefetchInputs {
    /** Fewer tokens than this per hashing task would cost more in fork-join overhead than they save. */
    private static final int HASH_TOKENS_PER_PIECE = 512;

    private final CompressionTable lut;
    private final long[] multipliers, moduli;
    private final int headsPerNgram;
    private final int historyLength;
    final long[] compressed;       // [maxTokens]
    final long[] sequenceHistory;  // [maxSequences * M]: row s = the ids before sequence s's chunk
    private final int[] cu;        // [maxSequences + 1]
    private PackedBatch decodeIdentity; // the identity batch of the last decode-shaped batch (cached: same every step)

    PackedPrefetchInputs(CompressionTable lut, long[] multipliers, long[] moduli, int headsPerNgram, int maxTokens,
                         int maxSequences) {
        this.lut = lut;
        this.multipliers = multipliers;
        this.moduli = moduli;
        this.headsPerNgram = headsPerNgram;
        this.historyLength = multipliers.length - 1;
        this.compressed = new long[maxTokens];
        this.sequenceHistory = new long[Math.multiplyExact(maxSequences, historyLength)];
        this.cu = new int[maxSequences + 1];
    }

    /**
     * Compresses the first {@code n} ids into {@link #compressed}.
     *
     * @throws IndexOutOfBoundsException for the first id {@code >=} the compression table's size, naming its index
     */
    void compress(String op, long[] rawIds, int n) {
        int size = lut.size();
        for (int i = 0; i < n; i++) {
            long id = rawIds[i];
            if (id >= size) {
                throw new IndexOutOfBoundsException(op + ": token id " + id + " at index " + i
                        + " is outside the compression table (size " + size + ")");
            }
            compressed[i] = lut.compress(id);
        }
    }

    /** Reads the history rows of {@code batch}'s sequences from {@code history} into {@link #sequenceHistory}. */
    void readHistory(PackedBatch batch, HostHistory history) {
        history.rowsOf(batch, sequenceHistory);
    }

    /**
     * Hashes the batch's {@link #compressed} ids with {@link #sequenceHistory} into {@code out} ({@code [tokens,
     * heads]}): on the calling thread for a few tokens, in token ranges on the common pool for many.
     */
    void hash(PackedBatch batch, long[] out) {
        int sequences = batch.sequences(), tokens = batch.tokens();
        for (int s = 0; s < sequences; s++) cu[s] = batch.start(s);
        cu[sequences] = tokens;
        int pieces = Math.max(1, Math.min(Runtime.getRuntime().availableProcessors(), tokens / HASH_TOKENS_PER_PIECE));
        if (pieces == 1) {
            NgramHasher.hashPackedRange(compressed, cu, sequences, sequenceHistory, multipliers, moduli, headsPerNgram, 0,
                    tokens, out);
            return;
        }
        IntStream.range(0, pieces).parallel().forEach(p -> NgramHasher.hashPackedRange(compressed, cu, sequences,
                sequenceHistory, multipliers, moduli, headsPerNgram, (int) ((long) tokens * p / pieces),
                (int) ((long) tokens * (p + 1) / pieces), out));
    }

    /**
     * {@return the batch the zero-copy gather reads: {@code batch}'s {@code cu_seqlens}, sequence {@code s} in slot
     * {@code s}, every sequence continuing} so that it reads history row {@code s} of {@link #sequenceHistory} (pad
     * for a starting sequence). A decode-shaped batch (one token per sequence) gets one cached object per sequence
     * count: no allocation per decode step.
     */
    PackedBatch identityOf(PackedBatch batch) {
        int sequences = batch.sequences();
        if (batch.tokens() == sequences && batch.maxLength() <= 1) { // every sequence has exactly one token
            if (decodeIdentity == null || decodeIdentity.sequences() != sequences) {
                decodeIdentity = PackedBatch.decode(IntStream.range(0, sequences).toArray());
            }
            return decodeIdentity;
        }
        return PackedBatch.of(batch.cuSeqlens(), IntStream.range(0, sequences).toArray(), new boolean[sequences]);
    }

    int historyLength() {
        return historyLength;
    }
}
