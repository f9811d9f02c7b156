package dev.engram.gpu;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

/** {@link Closeables}: everything is closed whatever fails, and the first failure carries the rest. */
class CloseablesTest {
    @Test
    void closesEverythingAndReportsTheFirstFailureWithTheOthersSuppressed() {
        List<String> closed = new ArrayList<>();
        RuntimeException boom = new IllegalStateException("first");
        AutoCloseable a = () -> closed.add("a");
        AutoCloseable failing = () -> {
            closed.add("failing");
            throw boom;
        };
        AutoCloseable checked = () -> {
            closed.add("checked");
            throw new IOException("second");
        };
        AutoCloseable b = () -> closed.add("b");

        RuntimeException result = Closeables.closeAll(null, a, null, failing, checked, b);
        assertEquals(List.of("a", "failing", "checked", "b"), closed);
        assertSame(boom, result);
        assertEquals(1, result.getSuppressed().length);
        assertInstanceOf(IOException.class, result.getSuppressed()[0]);
    }

    @Test
    void anEarlierFailureStaysFirst() {
        RuntimeException primary = new IllegalArgumentException("sync failed");
        RuntimeException result = Closeables.closeAll(primary, () -> {
            throw new IllegalStateException("close failed");
        });
        assertSame(primary, result);
        assertEquals("close failed", result.getSuppressed()[0].getMessage());
    }

    @Test
    void aCheckedFirstFailureIsWrappedAndNothingFailingGivesNull() {
        RuntimeException result = Closeables.closeAll(null, () -> {
            throw new IOException("io");
        });
        assertInstanceOf(IllegalStateException.class, result);
        assertInstanceOf(IOException.class, result.getCause());
        assertNull(Closeables.closeAll(null, () -> { }, null));
    }
}
