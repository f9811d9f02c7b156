/**
 * Loading libengram and calling its C ABI safely: {@link dev.engram.nativelib.NativeLibraryLoader}
 * (failures as values), {@link dev.engram.nativelib.EngramNative} (every downcall checked in one place)
 * and the exceptions they use.
 */
package dev.engram.nativelib;
