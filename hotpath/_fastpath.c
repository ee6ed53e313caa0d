/* hotpath._fastpath: the guard key and the common case of an Optimized call, in C.
 *
 * Same semantics as the pure-Python path (hotpath.signature.guard_key and
 * hotpath.dispatch.Optimized.__call__); it only handles the hot case itself:
 *
 *   positional call with the function's arity, not disabled, an Install for the key, its
 *   sampling countdown still positive after the decrement, a function that does not modify
 *   its arguments, and a variant that returns normally.
 *
 * Everything else (tier 0, shadow-verified calls, keyword arguments, a variant that raises)
 * goes to the same Python code the pure path runs, so there is one implementation of every
 * decision and this file is only a faster road to the most frequent one.
 *
 * Built by CMakeLists.txt through scikit-build-core; optional at run time (hotpath.fastpath).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/ndarraytypes.h>

/* Read straight from the array struct (no NumPy C-API table is needed for these). */
#define ARR(o) ((PyArrayObject_fields *)(o))

static PyTypeObject *ndarray_type = NULL; /* numpy.ndarray, exact type only, like the Python path */
static PyObject *layout_C, *layout_F, *layout_A, *one;
static PyObject *str_disabled, *str_bind, *str_arity, *str_installed, *str_watched_call;

/* --- guard key ---------------------------------------------------------------------------- */

static PyObject *arg_key(PyObject *value);

static PyObject *
sequence_key(PyObject *const *items, Py_ssize_t n)
{
    PyObject *key = PyTuple_New(n);
    if (key == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = arg_key(items[i]);
        if (item == NULL) {
            Py_DECREF(key);
            return NULL;
        }
        PyTuple_SET_ITEM(key, i, item);
    }
    return key;
}

static PyObject *
pair(PyObject *first, PyObject *second /* stolen */)
{
    PyObject *result = PyTuple_New(2);
    if (result == NULL) {
        Py_DECREF(second);
        return NULL;
    }
    Py_INCREF(first);
    PyTuple_SET_ITEM(result, 0, first);
    PyTuple_SET_ITEM(result, 1, second);
    return result;
}

/* (type, dtype, ndim, layout, writeable) for arrays; (tuple, keys) for tuples; (list, key of
 * the first element or None) for lists; the type for everything else. */
static PyObject *
arg_key(PyObject *value)
{
    PyTypeObject *kind = Py_TYPE(value);
    if (kind == ndarray_type) {
        int flags = ARR(value)->flags;
        PyObject *layout = (flags & NPY_ARRAY_C_CONTIGUOUS) ? layout_C
                           : (flags & NPY_ARRAY_F_CONTIGUOUS) ? layout_F : layout_A;
        PyObject *ndim = PyLong_FromLong(ARR(value)->nd);
        if (ndim == NULL)
            return NULL;
        PyObject *key = PyTuple_New(5);
        if (key == NULL) {
            Py_DECREF(ndim);
            return NULL;
        }
        PyObject *descr = (PyObject *)ARR(value)->descr;
        PyObject *writeable = (flags & NPY_ARRAY_WRITEABLE) ? Py_True : Py_False;
        Py_INCREF(kind);
        Py_INCREF(descr);
        Py_INCREF(layout);
        Py_INCREF(writeable);
        PyTuple_SET_ITEM(key, 0, (PyObject *)kind);
        PyTuple_SET_ITEM(key, 1, descr);
        PyTuple_SET_ITEM(key, 2, ndim);
        PyTuple_SET_ITEM(key, 3, layout);
        PyTuple_SET_ITEM(key, 4, writeable);
        return key;
    }
    if (kind == &PyTuple_Type) {
        if (Py_EnterRecursiveCall(" while computing a guard key"))
            return NULL;
        PyObject *inner = sequence_key(&PyTuple_GET_ITEM(value, 0), PyTuple_GET_SIZE(value));
        Py_LeaveRecursiveCall();
        return inner == NULL ? NULL : pair((PyObject *)kind, inner);
    }
    if (kind == &PyList_Type) {
        PyObject *first;
        if (PyList_GET_SIZE(value) == 0) {
            first = Py_None;
            Py_INCREF(first);
        }
        else {
            /* A list's element type decides how a compiler types it; the first stands in. */
            PyObject *item = PyList_GET_ITEM(value, 0);
            Py_INCREF(item); /* the list may change under a callback; hold the item */
            if (Py_EnterRecursiveCall(" while computing a guard key")) {
                Py_DECREF(item);
                return NULL;
            }
            first = arg_key(item);
            Py_LeaveRecursiveCall();
            Py_DECREF(item);
            if (first == NULL)
                return NULL;
        }
        return pair((PyObject *)kind, first);
    }
    Py_INCREF(kind);
    return (PyObject *)kind;
}

static PyObject *
guard_key(PyObject *module, PyObject *args)
{
    PyObject *seq = PySequence_Fast(args, "guard_key() takes a sequence of arguments");
    if (seq == NULL)
        return NULL;
    PyObject *key = sequence_key(PySequence_Fast_ITEMS(seq), PySequence_Fast_GET_SIZE(seq));
    Py_DECREF(seq);
    return key;
}

static PyObject *
noop(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    /* The cheapest C call with these arguments: the floor for the dispatch benchmark. */
    Py_RETURN_NONE;
}

/* --- a cache of recent (arguments' shape -> install) ------------------------------------ *
 *
 * Building the key tuple and hashing it for the dict lookup is most of the cost of a call. The
 * cache remembers, per installed-variants dict, the last few argument "prints" (type, dtype
 * pointer, ndim and layout/writeable flags of each argument: what the key is made of) with the
 * key and the Install they led to. A hit is valid only while the dict is unchanged, which its
 * version tag (bumped by every install and rollback, unique across dicts) proves; otherwise the
 * full key and lookup run as before. Arguments that are tuples or lists are never cached.
 */
#if PY_VERSION_HEX < 0x030E0000
#define HAVE_VERSION_TAG 1
#else
#define HAVE_VERSION_TAG 0 /* the tag is gone in 3.14: every call takes the full lookup */
#endif
#define CACHE_SLOTS 8
#define MAX_PRINT_ARGS 8

typedef struct {
    PyTypeObject *type;
    PyObject *descr; /* NULL for anything but an ndarray */
    int nd, flags;
} ArgPrint;

typedef struct {
    PyObject *installed; /* borrowed; compared by address, trusted only with the version */
    uint64_t version;
    Py_ssize_t nargs;
    ArgPrint prints[MAX_PRINT_ARGS];
    PyObject *key;     /* strong: keeps the types and dtypes in the prints alive */
    PyObject *install; /* strong */
} CacheEntry;

#define PRINT_FLAGS (NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_F_CONTIGUOUS | NPY_ARRAY_WRITEABLE)

/* The prints of args; 0 when some argument's key depends on more than its type (containers). */
static int
take_prints(PyObject *const *args, Py_ssize_t n, ArgPrint *out)
{
    if (n > MAX_PRINT_ARGS)
        return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTypeObject *kind = Py_TYPE(args[i]);
        out[i].type = kind;
        if (kind == ndarray_type) {
            out[i].descr = (PyObject *)ARR(args[i])->descr;
            out[i].nd = ARR(args[i])->nd;
            out[i].flags = ARR(args[i])->flags & PRINT_FLAGS;
        }
        else if (kind == &PyTuple_Type || kind == &PyList_Type) {
            return 0;
        }
        else {
            out[i].descr = NULL;
            out[i].nd = out[i].flags = 0;
        }
    }
    return 1;
}

#if HAVE_VERSION_TAG
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
static inline uint64_t
dict_version(PyObject *dict)
{
    return ((PyDictObject *)dict)->ma_version_tag;
}
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#endif

static inline Py_ssize_t
cache_slot(PyObject *installed, const ArgPrint *prints, Py_ssize_t n)
{
    uintptr_t h = (uintptr_t)installed >> 4;
    if (n > 0)
        h ^= ((uintptr_t)(prints[0].descr ? prints[0].descr : (PyObject *)prints[0].type) >> 4) * 31;
    return (Py_ssize_t)(h % CACHE_SLOTS);
}

/* --- the dispatching method ------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *fallback;     /* the pure-Python Optimized.__call__ */
    PyObject *on_error;     /* (opt, key, install, args, exc) -> result, for a variant that raised */
    PyTypeObject *install_type;
    Py_ssize_t countdown_at, mutates_at, variant_at; /* offsets of Install's slots */
    CacheEntry cache[CACHE_SLOTS];
    Py_ssize_t hits, misses; /* for tests and benchmarks: is the cache doing its job? */
} FastCall;

static void
entry_clear(CacheEntry *entry)
{
    Py_CLEAR(entry->key);
    Py_CLEAR(entry->install);
    entry->installed = NULL;
}

#define SLOT(obj, offset) (*(PyObject **)((char *)(obj) + (offset)))

static PyObject *
fallback(FastCall *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    return PyObject_Vectorcall(self->fallback, args, nargsf, kwnames);
}

static PyObject *
tuple_of(PyObject *const *items, Py_ssize_t n)
{
    PyObject *tuple = PyTuple_New(n);
    if (tuple == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_INCREF(items[i]);
        PyTuple_SET_ITEM(tuple, i, items[i]);
    }
    return tuple;
}

static PyObject *
fastcall_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    FastCall *self = (FastCall *)callable;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs < 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0))
        return fallback(self, args, nargsf, kwnames);
    PyObject *opt = args[0];
    PyObject *dict = PyObject_GenericGetDict(opt, NULL);
    if (dict == NULL) {
        PyErr_Clear();
        return fallback(self, args, nargsf, kwnames);
    }
    PyObject *disabled = PyDict_GetItem(dict, str_disabled);
    PyObject *bind = PyDict_GetItem(dict, str_bind);
    PyObject *arity = PyDict_GetItem(dict, str_arity);
    PyObject *installed = PyDict_GetItem(dict, str_installed);
    if (disabled != Py_False || bind == NULL || bind == Py_None || arity == NULL || !PyLong_CheckExact(arity)
        || installed == NULL || !PyDict_CheckExact(installed) || PyLong_AsSsize_t(arity) != nargs - 1) {
        Py_DECREF(dict);
        PyErr_Clear();
        return fallback(self, args, nargsf, kwnames);
    }
    Py_INCREF(installed);
    Py_DECREF(dict);

    PyObject *key = NULL, *install = NULL;
    ArgPrint prints[MAX_PRINT_ARGS];
    int printable = take_prints(args + 1, nargs - 1, prints);
    CacheEntry *entry = printable ? &self->cache[cache_slot(installed, prints, nargs - 1)] : NULL;
#if HAVE_VERSION_TAG
    if (entry != NULL && entry->installed == installed && entry->version == dict_version(installed)
        && entry->nargs == nargs - 1 && memcmp(entry->prints, prints, sizeof(ArgPrint) * (nargs - 1)) == 0) {
        key = entry->key;
        install = entry->install;
        Py_INCREF(key);
        Py_INCREF(install);
        self->hits++;
    }
#endif
    if (install == NULL) {
        self->misses++;
        key = sequence_key(args + 1, nargs - 1);
        if (key == NULL) {
            Py_DECREF(installed);
            return NULL;
        }
        install = PyDict_GetItemWithError(installed, key);
        if (install == NULL || Py_TYPE(install) != self->install_type) {
            Py_DECREF(key);
            Py_DECREF(installed);
            if (PyErr_Occurred())
                return NULL;
            return fallback(self, args, nargsf, kwnames); /* tier 0: the original counts and runs */
        }
        Py_INCREF(install); /* a rollback on another thread may drop it from the dict */
#if HAVE_VERSION_TAG
        if (entry != NULL) {
            entry_clear(entry);
            entry->installed = installed;
            entry->version = dict_version(installed);
            entry->nargs = nargs - 1;
            memcpy(entry->prints, prints, sizeof(ArgPrint) * (nargs - 1));
            Py_INCREF(key);
            Py_INCREF(install);
            entry->key = key;
            entry->install = install;
        }
#endif
    }
    Py_DECREF(installed);
    PyObject *result = NULL;
    PyObject *countdown = SLOT(install, self->countdown_at);
    if (countdown == NULL || !PyLong_CheckExact(countdown)) {
        Py_DECREF(key);
        Py_DECREF(install);
        return fallback(self, args, nargsf, kwnames);
    }
    /* install.countdown -= 1 */
    int overflow;
    long long remaining = PyLong_AsLongLongAndOverflow(countdown, &overflow);
    PyObject *next = overflow ? PyNumber_Subtract(countdown, one) : PyLong_FromLongLong(remaining - 1);
    if (next == NULL)
        goto done;
    SLOT(install, self->countdown_at) = next;
    Py_DECREF(countdown);
    int positive = overflow > 0 || (overflow == 0 && remaining - 1 > 0);

    PyObject *mutates = SLOT(install, self->mutates_at);
    PyObject *variant = SLOT(install, self->variant_at);
    int mutating = mutates == Py_False ? 0 : (mutates == Py_True ? 1 : PyObject_IsTrue(mutates));
    if (mutating < 0)
        goto done;
    if (positive && !mutating && variant != NULL) {
        /* The hot path: the variant, called with the caller's own argument vector. */
        Py_INCREF(variant);
        result = PyObject_Vectorcall(variant, args + 1, nargs - 1, NULL);
        Py_DECREF(variant);
        if (result != NULL || !PyErr_ExceptionMatches(PyExc_Exception))
            goto done; /* a result, or KeyboardInterrupt and friends: straight to the caller */
        PyObject *type, *exc, *tb;
        PyErr_Fetch(&type, &exc, &tb);
        PyErr_NormalizeException(&type, &exc, &tb);
        if (tb != NULL && exc != NULL)
            PyException_SetTraceback(exc, tb);
        Py_XDECREF(type);
        Py_XDECREF(tb);
        PyObject *tuple = tuple_of(args + 1, nargs - 1);
        if (tuple != NULL && exc != NULL)
            result = PyObject_CallFunctionObjArgs(self->on_error, opt, key, install, tuple, exc, NULL);
        Py_XDECREF(tuple);
        Py_XDECREF(exc);
        goto done;
    }
    /* Sampled (shadow-verified) call, or a function that modifies its arguments. */
    PyObject *tuple = tuple_of(args + 1, nargs - 1);
    if (tuple != NULL) {
        PyObject *call_args[4] = {opt, key, install, tuple};
        result = PyObject_VectorcallMethod(str_watched_call, call_args, 4 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        Py_DECREF(tuple);
    }
done:
    Py_DECREF(key);
    Py_DECREF(install);
    return result;
}

static Py_ssize_t
slot_offset(PyTypeObject *type, const char *name)
{
    PyObject *descr = PyDict_GetItemString(type->tp_dict, name);
    if (descr == NULL || !PyObject_TypeCheck(descr, &PyMemberDescr_Type)) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not a __slots__ member", type->tp_name, name);
        return -1;
    }
    PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
    if (member->type != T_OBJECT_EX && member->type != T_OBJECT) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not an object slot", type->tp_name, name);
        return -1;
    }
    return member->offset;
}

static PyObject *
fastcall_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *fallback_fn, *on_error;
    PyTypeObject *install_type;
    static char *names[] = {"fallback", "on_error", "install_type", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO!:FastCall", names, &fallback_fn, &on_error,
                                     &PyType_Type, &install_type))
        return NULL;
    Py_ssize_t countdown_at = slot_offset(install_type, "countdown");
    Py_ssize_t mutates_at = countdown_at < 0 ? -1 : slot_offset(install_type, "mutates");
    Py_ssize_t variant_at = mutates_at < 0 ? -1 : slot_offset(install_type, "variant");
    if (variant_at < 0)
        return NULL;
    FastCall *self = (FastCall *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->vectorcall = fastcall_vectorcall;
    Py_INCREF(fallback_fn);
    Py_INCREF(on_error);
    Py_INCREF(install_type);
    self->fallback = fallback_fn;
    self->on_error = on_error;
    self->install_type = install_type;
    self->countdown_at = countdown_at;
    self->mutates_at = mutates_at;
    self->variant_at = variant_at;
    return (PyObject *)self;
}

static int
fastcall_traverse(FastCall *self, visitproc visit, void *arg)
{
    Py_VISIT(self->fallback);
    Py_VISIT(self->on_error);
    Py_VISIT(self->install_type);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        Py_VISIT(self->cache[i].key);
        Py_VISIT(self->cache[i].install);
    }
    return 0;
}

static int
fastcall_clear(FastCall *self)
{
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->on_error);
    Py_CLEAR(self->install_type);
    for (int i = 0; i < CACHE_SLOTS; i++)
        entry_clear(&self->cache[i]);
    return 0;
}

static void
fastcall_dealloc(FastCall *self)
{
    PyObject_GC_UnTrack(self);
    fastcall_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
fastcall_get(PyObject *self, PyObject *obj, PyObject *type)
{
    /* Looked up on an instance, bind like a function (Optimized().__call__). */
    if (obj == NULL || obj == Py_None) {
        Py_INCREF(self);
        return self;
    }
    return PyMethod_New(self, obj);
}

static PyMemberDef fastcall_members[] = {
    {"fallback", T_OBJECT, offsetof(FastCall, fallback), READONLY, "the pure-Python implementation"},
    {"__wrapped__", T_OBJECT, offsetof(FastCall, fallback), READONLY, NULL},
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(FastCall, vectorcall), READONLY, NULL},
    {"cache_hits", T_PYSSIZET, offsetof(FastCall, hits), READONLY, "calls whose install came from the cache"},
    {"cache_misses", T_PYSSIZET, offsetof(FastCall, misses), READONLY, "calls that built the full key"},
    {NULL}
};

static PyTypeObject FastCallType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "hotpath._fastpath.FastCall",
    .tp_basicsize = sizeof(FastCall),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_METHOD_DESCRIPTOR,
    .tp_doc = "FastCall(fallback, on_error, install_type): Optimized.__call__ with its hot case in C.",
    .tp_new = fastcall_new,
    .tp_dealloc = (destructor)fastcall_dealloc,
    .tp_traverse = (traverseproc)fastcall_traverse,
    .tp_clear = (inquiry)fastcall_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(FastCall, vectorcall),
    .tp_descr_get = fastcall_get,
    .tp_members = fastcall_members,
};

/* --- module --------------------------------------------------------------------------------- */

static PyMethodDef methods[] = {
    {"guard_key", guard_key, METH_O,
     "guard_key(args) -> the hashable key of positional args (same as hotpath.signature.guard_key)."},
    {"noop", (PyCFunction)(void (*)(void))noop, METH_FASTCALL, "noop(*args) -> None; a benchmark floor."},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "hotpath._fastpath",
    "The compiled dispatch fast path: guard keys and the common Optimized call.", -1, methods,
};

PyMODINIT_FUNC
PyInit__fastpath(void)
{
    PyObject *numpy = PyImport_ImportModule("numpy");
    if (numpy == NULL)
        return NULL;
    ndarray_type = (PyTypeObject *)PyObject_GetAttrString(numpy, "ndarray");
    Py_DECREF(numpy);
    if (ndarray_type == NULL)
        return NULL;
    layout_C = PyUnicode_InternFromString("C");
    layout_F = PyUnicode_InternFromString("F");
    layout_A = PyUnicode_InternFromString("A");
    one = PyLong_FromLong(1);
    str_disabled = PyUnicode_InternFromString("_disabled");
    str_bind = PyUnicode_InternFromString("_bind");
    str_arity = PyUnicode_InternFromString("_arity");
    str_installed = PyUnicode_InternFromString("_installed");
    str_watched_call = PyUnicode_InternFromString("_watched_call");
    if (!layout_C || !layout_F || !layout_A || !one || !str_disabled || !str_bind || !str_arity || !str_installed
        || !str_watched_call)
        return NULL;
    if (PyType_Ready(&FastCallType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL)
        return NULL;
    Py_INCREF(&FastCallType);
    if (PyModule_AddObject(module, "FastCall", (PyObject *)&FastCallType) < 0) {
        Py_DECREF(&FastCallType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
