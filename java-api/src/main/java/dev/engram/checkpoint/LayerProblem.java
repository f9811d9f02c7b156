package dev.engram.checkpoint;

import dev.engram.io.SafetensorsException;

import java.nio.file.Path;
import java.util.Objects;

/**
 * One way a checkpoint layer does not fit its config: a missing tensor, a wrong dtype or shape, a scale tensor that
 * does not belong, a tensor the layer has no use for. {@link CheckpointLayer#check} lists them all;
 * {@link CheckpointLayer#open} throws the first as a {@link SafetensorsException}.
 *
 * @param file    the file the problem is in: the shard holding the tensor, or the checkpoint's path (a single file
 *                or the index) for a missing tensor
 * @param tensor  the tensor's full name, or {@code null} when the problem is about no single tensor
 * @param problem what is wrong, with the expected and the actual value
 */
public record LayerProblem(Path file, String tensor, String problem) {
    /**
     * Checks the fields.
     *
     * @throws NullPointerException when {@code file} or {@code problem} is null
     */
    public LayerProblem {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(problem, "problem");
    }

    /**
     * {@return the problem as the exception {@link CheckpointLayer#open} throws}
     *
     * @param more how many other problems the layer has (0: none; else the message says how many)
     */
    public SafetensorsException toException(int more) {
        String suffix = more == 0 ? "" : " (and " + more + " more problem" + (more == 1 ? "" : "s")
                + " with this layer; `engram inspect` lists them)";
        return new SafetensorsException(file, tensor, problem + suffix);
    }

    /**
     * {@return the problem as the exception's message gives it: file, tensor, what is wrong}
     */
    @Override
    public String toString() {
        return new SafetensorsException(file, tensor, problem).getMessage();
    }
}
