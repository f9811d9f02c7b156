package dev.engram.io;

import dev.engram.EngramException;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A safetensors checkpoint that cannot be used: a file that cannot be read, a header that breaks the format, a
 * sharded index that names a shard or tensor that is not there, a tensor that is missing or does not fit what the
 * caller expects. The message starts with the file and, where one is involved, names the tensor in full.
 */
public final class SafetensorsException extends EngramException {
    private static final long serialVersionUID = 1L;

    /** The file the problem is in (transient: {@link Path} is not serializable; the message keeps it). */
    private final transient Path file;
    /** The full name of the tensor the problem is about, or {@code null}. */
    private final String tensor;

    /**
     * Creates the exception.
     *
     * @param file    the file the problem is in (a shard, a single file or an index)
     * @param tensor  the tensor's full name, or {@code null} when the problem is not about one tensor
     * @param problem what is wrong, without the file or tensor name (the message adds them)
     */
    public SafetensorsException(Path file, String tensor, String problem) {
        this(file, tensor, problem, null);
    }

    /**
     * Creates the exception with the failure that caused it.
     *
     * @param file    the file the problem is in (a shard, a single file or an index)
     * @param tensor  the tensor's full name, or {@code null} when the problem is not about one tensor
     * @param problem what is wrong, without the file or tensor name (the message adds them)
     * @param cause   the underlying failure, or {@code null}
     */
    public SafetensorsException(Path file, String tensor, String problem, Throwable cause) {
        super(file + ": " + (tensor == null ? "" : "tensor \"" + tensor + "\": ") + problem, cause);
        this.file = file;
        this.tensor = tensor;
    }

    /**
     * {@return the file the problem is in; {@code null} after deserialization (the message still names it)}
     */
    public Path file() {
        return file;
    }

    /**
     * {@return the full name of the tensor the problem is about, if it is about one}
     */
    public Optional<String> tensor() {
        return Optional.ofNullable(tensor);
    }
}
