package dev.engram.io;

import dev.engram.json.JsonNumber;
import dev.engram.json.JsonReader;
import dev.engram.json.JsonWriter;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parsed and checked header of one safetensors file: everything is validated against the file's size before
 * a tensor byte is touched, as strictly as the reference implementation (it refuses the same files), except that
 * duplicate names are refused instead of silently keeping one.
 *
 * <p>Layout: an unsigned 64-bit little-endian header length N, N bytes of UTF-8 JSON (an object; trailing spaces
 * pad it), then the data section. Each member but {@code __metadata__} (an object of strings) is a tensor:
 * {@code {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}}, offsets relative to the data section.
 * Other members of a tensor entry are ignored, as the reference does. The tensors, sorted by offset, must cover
 * the data section exactly: no overlap, no gap, nothing after the last one (empty tensors may share an offset).
 */
final class SafetensorsHeader {
    /** The reference implementation's limit on N; a larger length means a corrupt file, not a big model. */
    static final long MAX_HEADER_BYTES = 100_000_000L;
    /** The header length field. */
    static final int LENGTH_BYTES = Long.BYTES;
    static final String METADATA_KEY = "__metadata__";

    private static final int DESCRIBE_CHARS = 80;

    private final Map<String, String> metadata;
    private final List<TensorInfo> tensors;

    private SafetensorsHeader(Map<String, String> metadata, List<TensorInfo> tensors) {
        this.metadata = metadata;
        this.tensors = tensors;
    }

    /** The {@code __metadata__} strings in file order; empty when the header has none. */
    Map<String, String> metadata() {
        return metadata;
    }

    /** The tensors in data order (by offset). */
    List<TensorInfo> tensors() {
        return tensors;
    }

    /**
     * Checks the header length field against the file: at least 8 bytes in the file, the length within
     * {@link #MAX_HEADER_BYTES} and within the file.
     *
     * @param rawLength the first 8 bytes as a little-endian {@code long} (negative when the unsigned value
     *                  is at least 2^63); ignored when the file is shorter than 8 bytes
     * @return the header length N
     */
    static int headerLength(Path file, long fileSize, long rawLength) {
        if (fileSize < LENGTH_BYTES) {
            throw new SafetensorsException(file, null, "file is " + fileSize + " bytes, too short for the 8-byte "
                    + "header length (truncated, or not a safetensors file)");
        }
        if (rawLength < 0 || rawLength > MAX_HEADER_BYTES) {
            throw new SafetensorsException(file, null, "header length " + Long.toUnsignedString(rawLength)
                    + " is over the limit of " + MAX_HEADER_BYTES + " bytes (not a safetensors file, or corrupt)");
        }
        if (rawLength > fileSize - LENGTH_BYTES) {
            throw new SafetensorsException(file, null, "header length " + rawLength + " runs past the end of the file ("
                    + fileSize + " bytes; truncated?)");
        }
        return (int) rawLength;
    }

    /**
     * Parses and checks the header bytes of a file of {@code fileSize} bytes whose length field was accepted by
     * {@link #headerLength}.
     */
    static SafetensorsHeader parse(Path file, long fileSize, byte[] header) {
        long dataStart = LENGTH_BYTES + (long) header.length;
        long dataSize = fileSize - dataStart;
        String text = decodeUtf8(file, header);
        if (text.startsWith("\uFEFF")) {
            throw new SafetensorsException(file, null, "header starts with a byte-order mark (not JSON for safetensors)");
        }
        Object root;
        try {
            root = JsonReader.parse(text);
        } catch (IllegalArgumentException e) {
            throw new SafetensorsException(file, null, "header is not valid JSON (" + e.getMessage() + ")", e);
        }
        if (!(root instanceof Map<?, ?> members)) {
            throw new SafetensorsException(file, null, "header is not a JSON object but " + describe(root));
        }
        Map<String, String> metadata = Map.of();
        List<Entry> entries = new ArrayList<>(members.size());
        for (Map.Entry<?, ?> m : members.entrySet()) {
            String name = (String) m.getKey();
            if (name.equals(METADATA_KEY)) {
                metadata = metadata(file, m.getValue());
            } else {
                entries.add(entry(file, name, m.getValue(), dataStart, dataSize));
            }
        }
        checkCoverage(file, entries, dataSize);
        List<TensorInfo> tensors = new ArrayList<>(entries.size());
        for (Entry e : entries) tensors.add(e.info);
        return new SafetensorsHeader(metadata, Collections.unmodifiableList(tensors));
    }

    /** One tensor entry with its header offsets. */
    private record Entry(TensorInfo info, long begin, long end) {}

    private static Entry entry(Path file, String name, Object value, long dataStart, long dataSize) {
        if (!(value instanceof Map<?, ?> fields)) {
            throw new SafetensorsException(file, name, "entry is not an object but " + describe(value));
        }
        Object dtypeName = required(file, name, fields, "dtype");
        if (!(dtypeName instanceof String dn)) {
            throw new SafetensorsException(file, name, "\"dtype\" is not a string but " + describe(dtypeName));
        }
        SafetensorsDType dtype = SafetensorsDType.byHeaderName(dn).orElseThrow(() -> new SafetensorsException(file,
                name, "unknown or unsupported dtype \"" + dn + "\" (supported: "
                + Arrays.toString(SafetensorsDType.values()) + ")"));
        long[] shape = nonNegativeLongs(file, name, fields, "shape", -1);
        long[] offsets = nonNegativeLongs(file, name, fields, "data_offsets", 2);
        long begin = offsets[0], end = offsets[1];
        if (begin > end) {
            throw new SafetensorsException(file, name, "data_offsets [" + begin + ", " + end + "] end before they begin");
        }
        if (end > dataSize) {
            throw new SafetensorsException(file, name, "data_offsets [" + begin + ", " + end + "] run past the data "
                    + "section of " + dataSize + " bytes (truncated file?)");
        }
        long byteSize;
        try {
            byteSize = TensorInfo.byteSizeOf(dtype, shape);
        } catch (IllegalArgumentException e) {
            throw new SafetensorsException(file, name, e.getMessage(), e);
        }
        if (end - begin != byteSize) {
            throw new SafetensorsException(file, name, "data_offsets [" + begin + ", " + end + "] hold " + (end - begin)
                    + " bytes, but " + dtype + " " + Arrays.toString(shape) + " takes " + byteSize);
        }
        return new Entry(new TensorInfo(file, name, dtype, shape, dataStart + begin, byteSize), begin, end);
    }

    /** Sorted by offset, the tensors must tile the data section: no overlap, no gap, no trailing bytes. */
    private static void checkCoverage(Path file, List<Entry> entries, long dataSize) {
        entries.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long covered = 0;
        String previous = null;
        for (Entry e : entries) {
            if (e.begin < covered) {
                throw new SafetensorsException(file, e.info.name(), "data_offsets [" + e.begin + ", " + e.end
                        + "] overlap tensor \"" + previous + "\", which ends at " + covered);
            }
            if (e.begin > covered) {
                throw new SafetensorsException(file, e.info.name(), "data_offsets [" + e.begin + ", " + e.end
                        + "] leave bytes [" + covered + ", " + e.begin + ") of the data section to no tensor "
                        + "(the format has no gaps)");
            }
            covered = e.end;
            previous = e.info.name();
        }
        if (covered != dataSize) {
            throw new SafetensorsException(file, null, "the tensors cover " + covered + " bytes, but the data section "
                    + "holds " + dataSize + " (bytes after the last tensor)");
        }
    }

    private static Map<String, String> metadata(Path file, Object value) {
        if (!(value instanceof Map<?, ?> fields)) {
            throw new SafetensorsException(file, null, METADATA_KEY + " is not an object but " + describe(value));
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> f : fields.entrySet()) {
            if (!(f.getValue() instanceof String s)) {
                throw new SafetensorsException(file, null, METADATA_KEY + " value of \"" + f.getKey()
                        + "\" is not a string but " + describe(f.getValue()));
            }
            out.put((String) f.getKey(), s);
        }
        return Collections.unmodifiableMap(out);
    }

    private static Object required(Path file, String name, Map<?, ?> fields, String key) {
        Object v = fields.get(key);
        if (v == null) {
            throw new SafetensorsException(file, name, fields.containsKey(key) ? "\"" + key + "\" is null"
                    : "entry has no \"" + key + "\"");
        }
        return v;
    }

    /** A JSON array of integers in {@code [0, 2^63)}, of {@code length} elements unless that is negative. */
    private static long[] nonNegativeLongs(Path file, String name, Map<?, ?> fields, String key, int length) {
        Object v = required(file, name, fields, key);
        String wanted = "\"" + key + "\" must be an array of " + (length < 0 ? "" : length + " ")
                + "non-negative integers below 2^63, got ";
        if (!(v instanceof List<?> list) || (length >= 0 && list.size() != length)) {
            throw new SafetensorsException(file, name, wanted + describe(v));
        }
        long[] out = new long[list.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(list.get(i) instanceof JsonNumber n) || !n.fitsLong() || n.longValue() < 0) {
                throw new SafetensorsException(file, name, wanted + describe(v));
            }
            out[i] = n.longValue();
        }
        return out;
    }

    /** Strict: malformed UTF-8 is an error, not replacement characters (the reference refuses it too). */
    private static String decodeUtf8(Path file, byte[] header) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(header))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new SafetensorsException(file, null, "header is not valid UTF-8 (" + e.getMessage() + ")", e);
        }
    }

    /** A value for a message, cut short: a header may hold arrays of thousands of numbers. */
    private static String describe(Object value) {
        String s = JsonWriter.compact(value);
        return s.length() <= DESCRIBE_CHARS ? s : s.substring(0, DESCRIBE_CHARS) + "...";
    }
}
