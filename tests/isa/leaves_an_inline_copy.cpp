// An object that check_isa_objects.py must refuse: an inline function the
// compiler kept out of line, as a per-ISA file would if a shared header's
// function were not inlined (ctest isa_objects_check_refuses_an_inline_copy).
__attribute__((noinline)) inline int twice(int x) { return 2 * x; }

int uses_the_inline_copy(int x) { return twice(x) + 1; }
