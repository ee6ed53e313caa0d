/* hotpath._fastpath: the guard key and the common case of an Optimized call, in C.
 *
 * Same semantics as the pure-Python path (hotpath.signature.guard_key and
 * hotpath.dispatch.Optimized.__call__); it only handles the hot case itself:
 *
 *   positional call with the function's arity, not disabled, NumPy's error state quiet (see
 *   hotpath.signature.error_state), an Install for the key, its
 *   sampling countdown still positive after the decrement, an install that needs no watching
 *   (``Install.watched``: the function modifies its arguments, or the variant was built with
 *   globals that must be checked first), and a variant that returns normally.
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

static PyTypeObject *ndarray_type = NULL; /* numpy.ndarray; its subclasses are keyed like it, type included */
static PyObject *layout_C, *layout_F, *layout_A, *one;
static PyObject *str_watched_call;

/* --- guard key ---------------------------------------------------------------------------- */

static PyObject *arg_key(PyObject *value);

static inline int
is_array_type(PyTypeObject *kind)
{
    return kind == ndarray_type
           || (kind != &PyFloat_Type && kind != &PyLong_Type && PyType_IsSubtype(kind, ndarray_type));
}

/* NumPy's error state (hotpath.signature.error_state): set_error_state(var, verdict) hands over
 * NumPy's context variable (None on NumPy 1) and the function that describes the state of the
 * current context given its state object. The verdict for the last object seen is kept here, so
 * the common case is one context-variable read and a pointer comparison. */
static PyObject *error_state_var, *error_state_fn, *seen_extobj, *seen_state;

/* New reference: Py_None while the state is quiet, else the ErrorState; NULL on error. */
static PyObject *
error_state(void)
{
    if (error_state_fn == NULL)
        Py_RETURN_NONE;
    PyObject *extobj = NULL;
    if (error_state_var != NULL && error_state_var != Py_None) {
        if (PyContextVar_Get(error_state_var, NULL, &extobj) < 0)
            return NULL;
        if (extobj != NULL && extobj == seen_extobj) {
            Py_DECREF(extobj);
            Py_INCREF(seen_state);
            return seen_state;
        }
    }
    PyObject *state = PyObject_CallOneArg(error_state_fn, extobj != NULL ? extobj : Py_None);
    if (state != NULL && extobj != NULL) {
        Py_INCREF(state);
        Py_XSETREF(seen_state, state);
        Py_XSETREF(seen_extobj, extobj); /* takes the reference */
        extobj = NULL;
    }
    Py_XDECREF(extobj);
    return state;
}

static PyObject *
set_error_state(PyObject *module, PyObject *args)
{
    PyObject *var, *verdict;
    if (!PyArg_ParseTuple(args, "OO:set_error_state", &var, &verdict))
        return NULL;
    Py_INCREF(var);
    Py_INCREF(verdict);
    Py_XSETREF(error_state_var, var);
    Py_XSETREF(error_state_fn, verdict);
    Py_CLEAR(seen_extobj);
    Py_CLEAR(seen_state);
    Py_RETURN_NONE;
}

/* Arrays of other libraries (CuPy, torch) are keyed by dtype, ndim, layout and device, which
 * hotpath.signature works out in Python: set_foreign(cache, described, describe) hands over its
 * type -> bool cache, the classifier that fills it and the describing function. */
static PyObject *described_cache, *described_fn, *describe_fn;

/* 1: values of kind are described beyond their type; 0: their type is their key; -1: error. */
static int
foreign(PyTypeObject *kind)
{
    if (described_cache == NULL || kind == &PyFloat_Type || kind == &PyLong_Type || kind == &PyBool_Type
        || kind == &PyComplex_Type || kind == Py_TYPE(Py_None) || kind == &PyUnicode_Type)
        return 0;
    PyObject *known = PyDict_GetItemWithError(described_cache, (PyObject *)kind); /* borrowed */
    if (known != NULL)
        return known == Py_True;
    if (PyErr_Occurred())
        return -1;
    PyObject *answer = PyObject_CallOneArg(described_fn, (PyObject *)kind); /* fills the cache */
    if (answer == NULL)
        return -1;
    int result = PyObject_IsTrue(answer);
    Py_DECREF(answer);
    return result;
}

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
    if (is_array_type(kind)) {
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
    int described = foreign(kind);
    if (described < 0)
        return NULL;
    if (described)
        return PyObject_CallOneArg(describe_fn, value);
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
    if (key == NULL)
        return NULL;
    PyObject *state = error_state();
    if (state == NULL || state == Py_None) {
        Py_XDECREF(state);
        if (state == NULL)
            Py_CLEAR(key);
        return key;
    }
    /* (*key, state), as hotpath.signature.guard_key builds it */
    Py_ssize_t n = PyTuple_GET_SIZE(key);
    PyObject *full = PyTuple_New(n + 1);
    if (full != NULL) {
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_INCREF(PyTuple_GET_ITEM(key, i));
            PyTuple_SET_ITEM(full, i, PyTuple_GET_ITEM(key, i));
        }
        PyTuple_SET_ITEM(full, n, state);
    }
    else
        Py_DECREF(state);
    Py_DECREF(key);
    return full;
}

static PyObject *
set_foreign(PyObject *module, PyObject *args)
{
    PyObject *cache, *described, *describe;
    if (!PyArg_ParseTuple(args, "O!OO:set_foreign", &PyDict_Type, &cache, &described, &describe))
        return NULL;
    Py_INCREF(cache);
    Py_INCREF(described);
    Py_INCREF(describe);
    Py_XSETREF(described_cache, cache);
    Py_XSETREF(described_fn, described);
    Py_XSETREF(describe_fn, describe);
    Py_RETURN_NONE;
}

/* identical(a, b): tuples of one length whose items are the same objects, pairwise (the
 * frozen-globals check, hotpath.frozen_globals: identity, never __eq__). */
static PyObject *
identical(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyTuple_Check(args[0]) || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "identical() takes two tuples");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(args[0]);
    if (PyTuple_GET_SIZE(args[1]) != n)
        Py_RETURN_FALSE;
    for (Py_ssize_t i = 0; i < n; i++)
        if (PyTuple_GET_ITEM(args[0], i) != PyTuple_GET_ITEM(args[1], i))
            Py_RETURN_FALSE;
    Py_RETURN_TRUE;
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
        if (is_array_type(kind)) {
            out[i].descr = (PyObject *)ARR(args[i])->descr;
            out[i].nd = ARR(args[i])->nd;
            out[i].flags = ARR(args[i])->flags & PRINT_FLAGS;
        }
        else if (kind == &PyTuple_Type || kind == &PyList_Type) {
            return 0;
        }
        else if (foreign(kind) != 0) {
            PyErr_Clear(); /* the full key asks again and reports it */
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

/* --- the dispatcher base class --------------------------------------------------------- *
 *
 * hotpath.dispatch.Optimized derives from Dispatcher. The state the hot case reads (installed
 * variants, the disabled flag, the binder, the arity) lives in this struct, exposed to Python as
 * ordinary attributes, so a call reads C fields instead of looking names up in the instance dict.
 * A call enters through vectorcall (no argument tuple) where the subclass allows it (see
 * set_vectorcall), otherwise through tp_call.
 */

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *installed; /* dict: guard key -> Install */
    PyObject *disabled;  /* bool */
    PyObject *bind;      /* None when the parameters cannot be bound positionally */
    PyObject *arity;     /* int */
    CacheEntry cache[CACHE_SLOTS];
    Py_ssize_t hits, misses; /* for tests and benchmarks: is the cache doing its job? */
} Dispatcher;

/* Set once by configure(): the pure-Python __call__ every unhandled case goes to, the handler of
 * a variant that raised, and where Install keeps the fields the hot case reads. */
static PyObject *pure_call, *on_error;
static PyTypeObject *install_type;
static Py_ssize_t countdown_at, watched_at, variant_at;

static void
entry_clear(CacheEntry *entry)
{
    Py_CLEAR(entry->key);
    Py_CLEAR(entry->install);
    entry->installed = NULL;
}

#define SLOT(obj, offset) (*(PyObject **)((char *)(obj) + (offset)))
#define SMALL_CALL 8

/* pure_call(self, *items, **kwargs) */
static PyObject *
call_pure(PyObject *self, PyObject *const *items, Py_ssize_t n, PyObject *kwnames)
{
    if (pure_call == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "hotpath._fastpath.configure() was not called");
        return NULL;
    }
    Py_ssize_t total = n + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    PyObject *small[SMALL_CALL + 1];
    PyObject **stack = total < SMALL_CALL ? small : PyMem_Malloc((total + 1) * sizeof(PyObject *));
    if (stack == NULL)
        return PyErr_NoMemory();
    stack[0] = self;
    memcpy(stack + 1, items, total * sizeof(PyObject *));
    PyObject *result = PyObject_Vectorcall(pure_call, stack, n + 1, kwnames);
    if (stack != small)
        PyMem_Free(stack);
    return result;
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

/* The call itself: items[0:n] are the positional arguments; tuple, when not NULL, holds them
 * already (the tp_call entry) and is reused for the calls that need a tuple. */
static PyObject *
dispatch(Dispatcher *self, PyObject *const *items, Py_ssize_t n, PyObject *kwnames, PyObject *tuple)
{
    PyObject *installed = self->installed;
    if ((kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0) || self->disabled != Py_False || self->bind == NULL
        || self->bind == Py_None || installed == NULL || !PyDict_CheckExact(installed) || self->arity == NULL
        || !PyLong_CheckExact(self->arity) || PyLong_AsSsize_t(self->arity) != n) {
        PyErr_Clear();
        return call_pure((PyObject *)self, items, n, kwnames);
    }
    /* Under an error state no variant honours, the pure path keys the call with it: tier 0. */
    PyObject *state = error_state();
    if (state != Py_None) {
        if (state == NULL)
            return NULL;
        Py_DECREF(state);
        return call_pure((PyObject *)self, items, n, kwnames);
    }
    Py_DECREF(state);
    Py_INCREF(installed); /* an install on another thread may replace the dict */

    PyObject *key = NULL, *install = NULL;
    ArgPrint prints[MAX_PRINT_ARGS];
    int printable = take_prints(items, n, prints);
    CacheEntry *entry = printable ? &self->cache[cache_slot(installed, prints, n)] : NULL;
#if HAVE_VERSION_TAG
    if (entry != NULL && entry->installed == installed && entry->version == dict_version(installed)
        && entry->nargs == n && memcmp(entry->prints, prints, sizeof(ArgPrint) * n) == 0) {
        key = entry->key;
        install = entry->install;
        Py_INCREF(key);
        Py_INCREF(install);
        self->hits++;
    }
#endif
    if (install == NULL) {
        self->misses++;
        key = sequence_key(items, n);
        if (key == NULL) {
            Py_DECREF(installed);
            return NULL;
        }
        install = PyDict_GetItemWithError(installed, key);
        if (install == NULL || Py_TYPE(install) != install_type) {
            Py_DECREF(key);
            Py_DECREF(installed);
            if (PyErr_Occurred())
                return NULL;
            return call_pure((PyObject *)self, items, n, kwnames); /* tier 0: the original counts and runs */
        }
        Py_INCREF(install); /* a rollback on another thread may drop it from the dict */
#if HAVE_VERSION_TAG
        if (entry != NULL) {
            entry_clear(entry);
            entry->installed = installed;
            entry->version = dict_version(installed);
            entry->nargs = n;
            memcpy(entry->prints, prints, sizeof(ArgPrint) * n);
            Py_INCREF(key);
            Py_INCREF(install);
            entry->key = key;
            entry->install = install;
        }
#endif
    }
    Py_DECREF(installed);
    PyObject *result = NULL;
    int own_tuple = 0;
    PyObject *countdown = SLOT(install, countdown_at);
    if (countdown == NULL || !PyLong_CheckExact(countdown)) {
        Py_DECREF(key);
        Py_DECREF(install);
        return call_pure((PyObject *)self, items, n, kwnames);
    }
    /* install.countdown -= 1 */
    int overflow;
    long long remaining = PyLong_AsLongLongAndOverflow(countdown, &overflow);
    PyObject *next = overflow ? PyNumber_Subtract(countdown, one) : PyLong_FromLongLong(remaining - 1);
    if (next == NULL)
        goto done;
    SLOT(install, countdown_at) = next;
    Py_DECREF(countdown);
    int positive = overflow > 0 || (overflow == 0 && remaining - 1 > 0);

    PyObject *watched = SLOT(install, watched_at);
    PyObject *variant = SLOT(install, variant_at);
    int watching = watched == Py_False ? 0 : (watched == Py_True ? 1 : PyObject_IsTrue(watched));
    if (watching < 0)
        goto done;
    if (tuple == NULL && !(positive && !watching && variant != NULL)) {
        if ((tuple = tuple_of(items, n)) == NULL)
            goto done;
        own_tuple = 1;
    }
    if (positive && !watching && variant != NULL) {
        /* The hot path: the variant, called with the caller's own argument vector. */
        Py_INCREF(variant);
        result = PyObject_Vectorcall(variant, items, n, NULL);
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
        if (tuple == NULL) {
            tuple = tuple_of(items, n);
            own_tuple = 1;
        }
        if (tuple != NULL && exc != NULL)
            result = PyObject_CallFunctionObjArgs(on_error, (PyObject *)self, key, install, tuple, exc, NULL);
        Py_XDECREF(exc);
        goto done;
    }
    /* Sampled (shadow-verified) call, or an install that is watched on every call. */
    PyObject *call_args[4] = {(PyObject *)self, key, install, tuple};
    result = PyObject_VectorcallMethod(str_watched_call, call_args, 4 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
done:
    if (own_tuple)
        Py_XDECREF(tuple);
    Py_DECREF(key);
    Py_DECREF(install);
    return result;
}

static PyObject *
dispatcher_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    return dispatch((Dispatcher *)callable, args, PyVectorcall_NARGS(nargsf), kwnames, NULL);
}

static PyObject *
dispatcher_call(PyObject *callable, PyObject *args, PyObject *kwargs)
{
    if (kwargs == NULL || PyDict_GET_SIZE(kwargs) == 0)
        return dispatch((Dispatcher *)callable, &PyTuple_GET_ITEM(args, 0), PyTuple_GET_SIZE(args), NULL, args);
    /* Keyword arguments: the pure path binds them. */
    if (pure_call == NULL)
        return call_pure(callable, NULL, 0, NULL); /* sets the error */
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    PyObject *with_self = PyTuple_New(n + 1);
    if (with_self == NULL)
        return NULL;
    Py_INCREF(callable);
    PyTuple_SET_ITEM(with_self, 0, callable);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_INCREF(PyTuple_GET_ITEM(args, i));
        PyTuple_SET_ITEM(with_self, i + 1, PyTuple_GET_ITEM(args, i));
    }
    PyObject *result = PyObject_Call(pure_call, with_self, kwargs);
    Py_DECREF(with_self);
    return result;
}

static PyObject *
dispatcher_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    Dispatcher *self = (Dispatcher *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->vectorcall = dispatcher_vectorcall;
    self->disabled = Py_True; /* until __init__ has set everything up, calls take the pure path */
    Py_INCREF(Py_True);
    return (PyObject *)self;
}

static int
dispatcher_traverse(Dispatcher *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self)); /* instances of heap subclasses own a reference to their type */
    Py_VISIT(self->installed);
    Py_VISIT(self->disabled);
    Py_VISIT(self->bind);
    Py_VISIT(self->arity);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        Py_VISIT(self->cache[i].key);
        Py_VISIT(self->cache[i].install);
    }
    return 0;
}

static int
dispatcher_clear(Dispatcher *self)
{
    Py_CLEAR(self->installed);
    Py_CLEAR(self->disabled);
    Py_CLEAR(self->bind);
    Py_CLEAR(self->arity);
    for (int i = 0; i < CACHE_SLOTS; i++)
        entry_clear(&self->cache[i]);
    return 0;
}

static void
dispatcher_dealloc(Dispatcher *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    dispatcher_clear(self);
    type->tp_free((PyObject *)self);
}

static PyMemberDef dispatcher_members[] = {
    {"_installed", T_OBJECT_EX, offsetof(Dispatcher, installed), 0, "guard key -> Install"},
    {"_disabled", T_OBJECT_EX, offsetof(Dispatcher, disabled), 0, "True: every call runs the original"},
    {"_bind", T_OBJECT, offsetof(Dispatcher, bind), 0, "inspect.Signature.bind, or None"},
    {"_arity", T_OBJECT_EX, offsetof(Dispatcher, arity), 0, "the number of parameters"},
    {"_cache_hits", T_PYSSIZET, offsetof(Dispatcher, hits), READONLY, "calls whose install came from the cache"},
    {"_cache_misses", T_PYSSIZET, offsetof(Dispatcher, misses), READONLY, "calls that built the full key"},
    {NULL}
};

static PyTypeObject DispatcherType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "hotpath._fastpath.Dispatcher",
    .tp_basicsize = sizeof(Dispatcher),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "Base of hotpath.dispatch.Optimized: the common case of a call, in C.",
    .tp_new = dispatcher_new,
    .tp_dealloc = (destructor)dispatcher_dealloc,
    .tp_traverse = (traverseproc)dispatcher_traverse,
    .tp_clear = (inquiry)dispatcher_clear,
    .tp_call = dispatcher_call,
    .tp_vectorcall_offset = offsetof(Dispatcher, vectorcall),
    .tp_members = dispatcher_members,
};

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
configure(PyObject *module, PyObject *args)
{
    PyObject *pure, *raised;
    PyTypeObject *installs;
    if (!PyArg_ParseTuple(args, "OOO!:configure", &pure, &raised, &PyType_Type, &installs))
        return NULL;
    Py_ssize_t countdown = slot_offset(installs, "countdown");
    Py_ssize_t watched = countdown < 0 ? -1 : slot_offset(installs, "watched");
    Py_ssize_t variant = watched < 0 ? -1 : slot_offset(installs, "variant");
    if (variant < 0)
        return NULL;
    Py_INCREF(pure);
    Py_INCREF(raised);
    Py_INCREF(installs);
    Py_XSETREF(pure_call, pure);
    Py_XSETREF(on_error, raised);
    Py_XSETREF(install_type, installs);
    countdown_at = countdown;
    watched_at = watched;
    variant_at = variant;
    Py_RETURN_NONE;
}

/* Python 3.11 gives a subclass defined in Python no vectorcall entry even when it keeps its
 * base's call (3.12 does); without one, every call first packs its arguments into a tuple.
 * set_vectorcall(cls, on) turns the entry on for a subclass of Dispatcher that does not define
 * __call__ itself, and off again before the subclass gets a Python __call__. */
static PyObject *
set_vectorcall(PyObject *module, PyObject *args)
{
    PyTypeObject *cls;
    int on;
    if (!PyArg_ParseTuple(args, "O!p:set_vectorcall", &PyType_Type, &cls, &on))
        return NULL;
    if (!PyType_IsSubtype(cls, &DispatcherType)) {
        PyErr_Format(PyExc_TypeError, "%s does not derive from hotpath._fastpath.Dispatcher", cls->tp_name);
        return NULL;
    }
    if (on && cls->tp_call != dispatcher_call) {
        PyErr_Format(PyExc_TypeError, "%s defines its own __call__", cls->tp_name);
        return NULL;
    }
    if (on) {
        cls->tp_vectorcall_offset = offsetof(Dispatcher, vectorcall);
        cls->tp_flags |= Py_TPFLAGS_HAVE_VECTORCALL;
    }
    else {
        cls->tp_flags &= ~Py_TPFLAGS_HAVE_VECTORCALL;
    }
    PyType_Modified(cls);
    Py_RETURN_NONE;
}

/* --- module --------------------------------------------------------------------------------- */

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(pure_call, on_error, install_type): what Dispatcher falls back to and reads."},
    {"set_vectorcall", set_vectorcall, METH_VARARGS,
     "set_vectorcall(cls, on): give a Dispatcher subclass the vectorcall entry (Python 3.11)."},
    {"set_error_state", set_error_state, METH_VARARGS,
     "set_error_state(var, verdict): NumPy's error-state context variable and its describer (hotpath.signature)."},
    {"set_foreign", set_foreign, METH_VARARGS,
     "set_foreign(cache, described, describe): how arrays of other libraries are keyed (hotpath.signature)."},
    {"guard_key", guard_key, METH_O,
     "guard_key(args) -> the hashable key of positional args (same as hotpath.signature.guard_key)."},
    {"identical", (PyCFunction)(void (*)(void))identical, METH_FASTCALL,
     "identical(a, b) -> whether tuples a and b hold the same objects, pairwise."},
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
    str_watched_call = PyUnicode_InternFromString("_watched_call");
    if (!layout_C || !layout_F || !layout_A || !one || !str_watched_call)
        return NULL;
    if (PyType_Ready(&DispatcherType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL)
        return NULL;
    Py_INCREF(&DispatcherType);
    if (PyModule_AddObject(module, "Dispatcher", (PyObject *)&DispatcherType) < 0) {
        Py_DECREF(&DispatcherType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
