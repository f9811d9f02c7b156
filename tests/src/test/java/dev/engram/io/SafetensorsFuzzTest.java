package dev.engram.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Seeded, bounded fuzzing of the reader: random mutations of valid files (bit flips, truncations, extensions, header
 * length changes, JSON edits) must either open, with every tensor inside the file, or fail with a
 * {@link SafetensorsException}: never another exception, never a read out of bounds. A failure prints the seed,
 * the iteration and the mutation, so that it can be replayed.
 */
class SafetensorsFuzzTest {
    private static final long SEED = Long.getLong("engram.fuzz.seed", 20260513L);
    private static final int MUTATIONS = Integer.getInteger("engram.fuzz.mutations", 3000);

    private static final String[] TOKENS = {"{", "}", "[", "]", ",", ":", "\"", "-", "0", "1", "9", ".", "e", " ",
        "null", "true", "\\", "\\u0000", "18446744073709551616", "9223372036854775807", "-1", "1e3", "0.5",
        "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "\"F32\"", "\"BOOL\"", "\"F8_E4M3\"", "\u00e9"};

    private static final Pattern OFFSETS =
            Pattern.compile("\"data_offsets\":\\[(\\d+),(\\d+)]");

    @TempDir
    Path dir;

    /** Valid files to start from: several dtypes, 0-d and empty tensors, metadata, an unpadded header. */
    private List<byte[]> seeds() throws IOException {
        List<byte[]> seeds = new ArrayList<>();
        Random random = new Random(SEED);
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
        int i = 0;
        for (SafetensorsDType dtype : SafetensorsDType.values()) {
            long[] shape = switch (i++ % 4) {
                case 0 -> new long[] {};
                case 1 -> new long[] {3};
                case 2 -> new long[] {2, 0};
                default -> new long[] {2, 2};
            };
            byte[] bytes = new byte[(int) TensorInfo.byteSizeOf(dtype, shape)];
            random.nextBytes(bytes);
            w.add("model.layers.0.engram." + dtype.name().toLowerCase(), dtype, shape, MemorySegment.ofArray(bytes));
        }
        Path file = dir.resolve("seed.safetensors");
        w.write(file);
        seeds.add(Files.readAllBytes(file));
        seeds.add(SafetensorsBytes.file("{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", new byte[16]));
        seeds.add(SafetensorsBytes.padded("{\"a\":{\"dtype\":\"BF16\",\"shape\":[1,3],\"data_offsets\":[0,6]},"
                + "\"b\":{\"dtype\":\"F8_E8M0\",\"shape\":[1],\"data_offsets\":[6,7]}}", new byte[7]));
        return seeds;
    }

    @Test
    void mutatedFilesOpenCleanlyOrFailWithTheLibrarysException() throws IOException {
        List<byte[]> seeds = seeds();
        for (byte[] s : seeds) assertEquals(-1, tryOpen(s, "seed"), "seeds are valid");
        Random random = new Random(SEED);
        Path file = dir.resolve("mutant.safetensors");
        int accepted = 0, refused = 0;
        Set<String> kinds = new HashSet<>();
        long start = System.nanoTime();
        for (int iteration = 0; iteration < MUTATIONS; iteration++) {
            byte[] seed = seeds.get(random.nextInt(seeds.size()));
            StringBuilder how = new StringBuilder();
            byte[] mutant = mutate(seed, random, how);
            Files.write(file, mutant);
            String where = "seed " + SEED + ", iteration " + iteration + ", " + how;
            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                long total = 0;
                for (TensorInfo t : f.tensors()) {
                    assertTrue(t.fileOffset() >= 8 && t.fileOffset() + t.byteSize() <= mutant.length, where + ": " + t);
                    MemorySegment data = f.data(t.name());
                    assertEquals(t.byteSize(), data.byteSize(), where);
                    assertEquals(-1, data.mismatch(MemorySegment.ofArray(mutant).asSlice(t.fileOffset(), t.byteSize())),
                            where + ": the slice is the file's bytes");
                    total += t.byteSize();
                }
                long headerLength = ByteBuffer.wrap(mutant).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
                assertEquals(mutant.length, 8 + headerLength + total, where + ": the tensors cover the data section");
                accepted++;
            } catch (SafetensorsException e) {
                assertTrue(e.getMessage().startsWith(file + ": "), where + ": " + e.getMessage());
                kinds.add(kind(e.getMessage().substring(file.toString().length() + 2)));
                refused++;
            } catch (Throwable t) {
                fail(where + ": " + t, t);
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("safetensors fuzz: %d mutations in %.1f s, %d opened, %d refused, %d kinds of refusal%n",
                MUTATIONS, seconds, accepted, refused, kinds.size());
        if (Boolean.getBoolean("engram.fuzz.verbose")) kinds.stream().sorted().forEach(System.out::println);
        assertTrue(accepted > MUTATIONS / 50, "some mutants (data bytes, padding) are still valid: " + accepted);
        assertTrue(kinds.size() >= 12, "the mutations reach many checks: " + kinds);
    }

    /** -1 when the bytes open, else a count of 1 (for the seeds' sanity check). */
    private int tryOpen(byte[] bytes, String name) throws IOException {
        Path file = Files.write(dir.resolve(name + ".safetensors"), bytes);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            return f.tensors().isEmpty() ? 0 : -1;
        }
    }

    /** The message without numbers and quoted names, to count distinct checks. */
    private static String kind(String message) {
        String m = message.replaceAll("tensor \"[^\"]*\": ", "");
        m = m.replaceAll("\\(.*", "").replaceAll("\"[^\"]*\"", "S").replaceAll("-?\\d+", "N");
        return m.length() > 40 ? m.substring(0, 40) : m;
    }

    private static byte[] mutate(byte[] seed, Random r, StringBuilder how) {
        byte[] b = seed.clone();
        int rounds = 1 + r.nextInt(3);
        for (int k = 0; k < rounds; k++) {
            switch (r.nextInt(7)) {
                case 0 -> { // bit flips, mostly in the header
                    if (b.length == 0) break;
                    int headerEnd = b.length < 8 ? 0 : (int) Math.min(b.length,
                            8 + Math.max(0, ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(0)));
                    int at = r.nextInt(4) == 0 || headerEnd <= 8 ? r.nextInt(b.length) : 8 + r.nextInt(headerEnd - 8);
                    int bit = r.nextInt(8);
                    b[at] ^= (byte) (1 << bit);
                    how.append("flip byte ").append(at).append(" bit ").append(bit).append("; ");
                }
                case 1 -> { // truncate
                    int len = r.nextInt(b.length + 1);
                    b = Arrays.copyOf(b, len);
                    how.append("truncate to ").append(len).append("; ");
                }
                case 2 -> { // extend with random bytes
                    int extra = 1 + r.nextInt(16);
                    int old = b.length;
                    b = Arrays.copyOf(b, old + extra);
                    for (int i = old; i < b.length; i++) b[i] = (byte) r.nextInt(256);
                    how.append("extend by ").append(extra).append("; ");
                }
                case 3 -> { // header length field
                    if (b.length < 8) break;
                    ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
                    long length = switch (r.nextInt(4)) {
                        case 0 -> bb.getLong(0) + r.nextInt(33) - 16;
                        case 1 -> r.nextInt(b.length + 8);
                        case 2 -> r.nextLong();
                        default -> 100_000_000L + r.nextInt(3) - 1;
                    };
                    bb.putLong(0, length);
                    how.append("header length ").append(Long.toUnsignedString(length)).append("; ");
                }
                default -> { // JSON edits, keeping the length field consistent half of the time
                    b = editJson(b, r, how);
                }
            }
        }
        return b;
    }

    private static byte[] editJson(byte[] b, Random r, StringBuilder how) {
        if (b.length < 8) return b;
        long declared = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        if (declared < 2 || declared > b.length - 8) return b;
        String header = new String(b, 8, (int) declared, StandardCharsets.UTF_8);
        byte[] data = Arrays.copyOfRange(b, 8 + (int) declared, b.length);
        int at = r.nextInt(header.length());
        String edited = switch (r.nextInt(5)) {
            case 0 -> { // delete a span
                int end = Math.min(header.length(), at + 1 + r.nextInt(6));
                how.append("delete [").append(at).append(", ").append(end).append("); ");
                yield header.substring(0, at) + header.substring(end);
            }
            case 1 -> { // insert a token
                String token = TOKENS[r.nextInt(TOKENS.length)];
                how.append("insert ").append(token).append(" at ").append(at).append("; ");
                yield header.substring(0, at) + token + header.substring(at);
            }
            case 2 -> { // change a number
                int digit = header.indexOf(Character.forDigit(r.nextInt(10), 10), at);
                if (digit < 0) yield header;
                String token = TOKENS[8 + r.nextInt(3)];
                how.append("digit at ").append(digit).append(" -> ").append(token).append("; ");
                yield header.substring(0, digit) + token + header.substring(digit + 1);
            }
            case 3 -> { // move one tensor's data_offsets, keeping its size: overlaps and gaps
                Matcher m = OFFSETS.matcher(header);
                List<int[]> found = new ArrayList<>();
                while (m.find()) found.add(new int[] {m.start(), m.end()});
                if (found.isEmpty()) yield header;
                int[] span = found.get(r.nextInt(found.size()));
                m = OFFSETS.matcher(header.substring(span[0], span[1]));
                m.matches();
                long shift = r.nextInt(9) - 4;
                long begin = Long.parseLong(m.group(1)) + shift, end = Long.parseLong(m.group(2)) + shift;
                how.append("shift data_offsets at ").append(span[0]).append(" by ").append(shift).append("; ");
                yield header.substring(0, span[0]) + "\"data_offsets\":[" + begin + "," + end + "]" + header.substring(span[1]);
            }
            default -> { // duplicate a span elsewhere
                int end = Math.min(header.length(), at + 1 + r.nextInt(40));
                int to = r.nextInt(header.length());
                how.append("copy [").append(at).append(", ").append(end).append(") to ").append(to).append("; ");
                yield header.substring(0, to) + header.substring(at, end) + header.substring(to);
            }
        };
        boolean fixLength = r.nextBoolean();
        how.append(fixLength ? "(length fixed); " : "(length kept); ");
        byte[] h = edited.getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(fixLength ? h.length : declared).put(h).put(data);
        return out.array();
    }
}
