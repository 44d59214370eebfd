// Checks a model JSON completely before RTNeural sees it: RTNeural's loaders read weights
// with unchecked indexing in places, so a wrong shape would be undefined behaviour there.
#include "processor.h"

#include <set>
#include <vector>

namespace nfx
{
namespace
{
    using Shape = std::vector<long>;
    constexpr long kMaxKnobs = 3; // MAX_KNOBS in src/neuralfx/data/knobs.py

    std::string str(const Shape& s)
    {
        std::string out = "[";
        for(size_t i = 0; i < s.size(); ++i)
            out += (i ? ", " : "") + std::to_string(s[i]);
        return out + "]";
    }

    /** The dimensions of a regular nested array of numbers; false if ragged or not numeric. */
    bool shapeOf(const json& v, Shape& out)
    {
        if(v.is_number())
            return true;
        if(!v.is_array())
            return false;
        out.push_back((long)v.size());
        if(v.empty())
            return true;
        Shape inner;
        if(!shapeOf(v[0], inner))
            return false;
        for(const auto& e : v)
        {
            Shape s;
            if(!shapeOf(e, s) || s != inner)
                return false;
        }
        out.insert(out.end(), inner.begin(), inner.end());
        return true;
    }

    struct Checker
    {
        std::string where;

        [[noreturn]] void fail(const std::string& msg) const { throw UserError(where + ": " + msg); }

        const json& need(const json& obj, const std::string& key, const std::string& what) const
        {
            if(!obj.is_object() || !obj.contains(key))
                fail(what + "missing key '" + key + "'; the file is truncated or not a neuralfx/RTNeural model: export it again");
            return obj.at(key);
        }

        Shape shape(const json& v, const std::string& label) const
        {
            Shape s;
            if(!shapeOf(v, s))
                fail(label + " is not a numeric array (ragged, or holds non-numbers)");
            return s;
        }

        void expect(const json& v, const Shape& expected, const std::string& label, const std::string& why) const
        {
            const Shape s = shape(v, label);
            if(s != expected)
                fail(label + " has shape " + str(s) + ", expected " + str(expected) + why);
        }

        /** A positive integer given plainly or as the last element of a list (Keras style). */
        int lastInt(const json& v, const std::string& label) const
        {
            const json& x = (v.is_array() && !v.empty()) ? v.back() : v;
            if(!x.is_number_integer() || x.get<long>() < 1)
                fail(label + " is " + v.dump() + "; expected a positive integer");
            return x.get<int>();
        }
    };

    void readMetadata(const json& j, ModelInfo& info, const Checker& c)
    {
        if(!j.contains("neuralfx"))
            return;
        const json& m = j.at("neuralfx");
        if(!m.is_object())
            c.fail("'neuralfx' metadata is not an object; export the model again");
        if(m.contains("skip"))
        {
            if(!m["skip"].is_boolean())
                c.fail("metadata 'skip' is " + m["skip"].dump() + "; expected true or false");
            info.skip = m["skip"].get<bool>();
        }
        if(m.contains("sample_rate_hz"))
            info.sample_rate_hz = c.lastInt(m["sample_rate_hz"], "metadata 'sample_rate_hz'");
    }

    /** The knob names and ranges of metadata "knobs", one per input after the audio; a file
     * without them (another tool's) gets param1.. over 0..1, AIDA-X's PARAM1/PARAM2. */
    void readKnobs(const json& j, ModelInfo& info, const Checker& c)
    {
        const int n = info.in_channels - 1;
        const bool has = j.contains("neuralfx") && j["neuralfx"].contains("knobs");
        if(!has)
        {
            for(int i = 0; i < n; ++i)
                info.knobs.push_back({ "param" + std::to_string(i + 1), "", 0.0, 1.0 });
            return;
        }
        const json& ks = j["neuralfx"]["knobs"];
        if(!ks.is_array() || (int)ks.size() != n)
            c.fail("metadata 'knobs' does not list one knob per knob input (" + std::to_string(n) + "); export the model again");
        for(size_t i = 0; i < ks.size(); ++i)
        {
            const json& k = ks[i];
            const bool ok = k.is_object() && k.contains("name") && k["name"].is_string() && k.contains("lo") && k["lo"].is_number()
                            && k.contains("hi") && k["hi"].is_number() && (!k.contains("unit") || k["unit"].is_string());
            if(!ok || !(k["lo"].get<double>() < k["hi"].get<double>()))
                c.fail("metadata knobs[" + std::to_string(i) + "] needs a name, a unit and lo < hi; export the model again");
            info.knobs.push_back({ k["name"].get<std::string>(), k.value("unit", std::string()), k["lo"].get<double>(), k["hi"].get<double>() });
        }
    }

    void checkMetaInt(const json& j, const char* key, int actual, const std::string& source, const Checker& c)
    {
        if(!j.contains("neuralfx") || !j["neuralfx"].contains(key))
            return;
        const json& v = j["neuralfx"][key];
        if(!v.is_number_integer() || v.get<long>() != actual)
            c.fail(std::string("metadata says ") + key + " " + v.dump() + " but " + source + " holds "
                   + std::to_string(actual) + "; the file was edited by hand: export it again");
    }

    ModelInfo checkLab(const json& j, const Checker& c)
    {
        ModelInfo info;
        info.format = "lab";
        info.cell = "lstm";
        for(const auto& item : j.items())
            if(item.key().rfind("gru.", 0) == 0)
                info.cell = "gru";
        const std::string p = info.cell + ".";
        const long gates = info.cell == "lstm" ? 4 : 3;
        for(const char* k : { "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0" })
            c.need(j, p + k, "");
        c.need(j, "dense.weight", "");
        c.need(j, "dense.bias", "");
        if(j.contains(p + "weight_ih_l1"))
            c.fail("holds a stacked " + info.cell + " (" + p + "weight_ih_l1); the lab format runs one layer: export with --format native");

        const std::string hh = p + "weight_hh_l0";
        const Shape s = c.shape(j[hh], hh);
        if(s.size() != 2 || s[1] < 1 || s[0] != gates * s[1])
            c.fail(hh + " has shape " + str(s) + "; expected [" + std::to_string(gates) + "*H, H] for a " + info.cell + " of H units");
        const long h = s[1];
        info.hidden = (int)h;
        const std::string why = " for a " + info.cell + " of " + std::to_string(h) + " units (from " + hh + ")";
        c.expect(j[p + "weight_ih_l0"], { gates * h, 1 }, p + "weight_ih_l0", why);
        c.expect(j[p + "bias_ih_l0"], { gates * h }, p + "bias_ih_l0", why);
        c.expect(j[p + "bias_hh_l0"], { gates * h }, p + "bias_hh_l0", why);
        c.expect(j["dense.weight"], { 1, h }, "dense.weight", why);
        c.expect(j["dense.bias"], { 1 }, "dense.bias", why);
        checkMetaInt(j, "hidden_size", info.hidden, hh, c);
        readMetadata(j, info, c);
        info.description = "lab: " + info.cell + " " + std::to_string(h) + " > dense 1";
        return info;
    }

    void checkActivation(const json& layer, bool required, const std::string& what, const Checker& c)
    {
        static const std::set<std::string> known { "tanh", "relu", "sigmoid", "softmax", "elu" };
        if(!layer.contains("activation"))
        {
            if(required)
                c.need(layer, "activation", what);
            return;
        }
        const json& a = layer["activation"];
        if(!a.is_string() || (a.get<std::string>().empty() ? required : !known.count(a.get<std::string>())))
            c.fail(what + "activation " + a.dump() + " is not one RTNeural's parseJson knows (tanh, relu, sigmoid, softmax, elu)");
    }

    ModelInfo checkNative(const json& j, const Checker& c)
    {
        ModelInfo info;
        info.format = "native";
        const json& in_shape = c.need(j, "in_shape", "");
        if(!in_shape.is_array() || in_shape.empty() || in_shape.size() == 4 || !in_shape.back().is_number_integer()
           || in_shape.back().get<long>() < 1 || in_shape.back().get<long>() > 1 + kMaxKnobs)
            c.fail("'in_shape' is " + in_shape.dump() + "; neuralfx models take the audio and up to 3 knobs: [null, null, 1] to [null, null, 4]");
        info.in_channels = in_shape.back().get<int>();
        const json& layers = c.need(j, "layers", "");
        if(!layers.is_array() || layers.empty())
            c.fail("'layers' is empty or not a list; export the model again");

        long width = info.in_channels;
        int recurrent_layers = 0, first_hidden = 0;
        info.description = "native:";
        for(size_t i = 0; i < layers.size(); ++i)
        {
            const json& l = layers[i];
            std::string what = "layer " + std::to_string(i) + " ";
            const json& type_v = c.need(l, "type", what);
            if(!type_v.is_string())
                c.fail(what + "'type' is " + type_v.dump() + ", not a layer name");
            const std::string type = type_v.get<std::string>();
            what += "(" + type + ") ";
            // parseJson reads "shape" and "weights" of every layer, activation layers included.
            const long dims = c.lastInt(c.need(l, "shape", what), what + "'shape'");
            const json& w = c.need(l, "weights", what);
            const std::string why = " (layer input " + std::to_string(width) + ", width " + std::to_string(dims) + ")";
            auto count = [&](size_t lo, size_t hi, const char* names) {
                if(!w.is_array() || w.size() < lo || w.size() > hi)
                    c.fail(what + "'weights' holds " + (w.is_array() ? std::to_string(w.size()) : std::string("no list of"))
                           + " arrays, expected " + names);
            };
            auto label = [&](int k, const char* name) { return what + "weights[" + std::to_string(k) + "] (" + name + ")"; };

            if(type == "dense" || type == "time-distributed-dense")
            {
                count(1, 2, "2 (kernel, bias)");
                c.expect(w[0], { width, dims }, label(0, "kernel"), why);
                if(w.size() == 2)
                    c.expect(w[1], { dims }, label(1, "bias"), why);
                checkActivation(l, false, what, c);
            }
            else if(type == "conv1d")
            {
                const long k = c.lastInt(c.need(l, "kernel_size", what), what + "'kernel_size'");
                c.lastInt(c.need(l, "dilation", what), what + "'dilation'");
                const long groups = l.contains("groups") ? c.lastInt(l["groups"], what + "'groups'") : 1;
                if(width % groups || dims % groups)
                    c.fail(what + "has " + std::to_string(groups) + " groups, which do not divide its input " + std::to_string(width)
                           + " and width " + std::to_string(dims));
                count(2, 2, "2 (kernel, bias)");
                c.expect(w[0], { k, width / groups, dims }, label(0, "kernel"), why);
                c.expect(w[1], { dims }, label(1, "bias"), why);
                checkActivation(l, false, what, c);
            }
            else if(type == "lstm" || type == "gru")
            {
                const long g = (type == "lstm" ? 4 : 3) * dims;
                count(3, 3, "3 (kernel, recurrent kernel, bias)");
                c.expect(w[0], { width, g }, label(0, "kernel"), why);
                c.expect(w[1], { dims, g }, label(1, "recurrent kernel"), why);
                c.expect(w[2], type == "lstm" ? Shape { g } : Shape { 2, g }, label(2, "bias"), why);
                if(!recurrent_layers++)
                    first_hidden = (int)dims;
            }
            else if(type == "prelu")
            {
                if(dims != width)
                    c.fail(what + "has width " + std::to_string(dims) + " but its input is " + std::to_string(width));
                count(1, 1, "1 (alpha)");
                const Shape s = c.shape(w[0], label(0, "alpha"));
                if(s.size() != 2 || s[0] != 1 || (s[1] != 1 && s[1] != dims))
                    c.fail(label(0, "alpha") + " has shape " + str(s) + ", expected [1, 1] or [1, " + std::to_string(dims) + "]");
            }
            else if(type == "batchnorm")
            {
                if(dims != width)
                    c.fail(what + "has width " + std::to_string(dims) + " but its input is " + std::to_string(width));
                if(!c.need(l, "epsilon", what).is_number())
                    c.fail(what + "'epsilon' is " + l["epsilon"].dump() + "; expected a number");
                if(!w.is_array() || (w.size() != 2 && w.size() != 4))
                    c.fail(what + "'weights' must hold 4 arrays (gamma, beta, mean, variance) or 2 (mean, variance)");
                for(size_t k = 0; k < w.size(); ++k)
                    c.expect(w[k], { dims }, label((int)k, "batchnorm"), why);
            }
            else if(type == "activation")
            {
                if(dims != width)
                    c.fail(what + "has width " + std::to_string(dims) + " but its input is " + std::to_string(width));
                checkActivation(l, true, what, c);
            }
            else
            {
                c.fail(what + "is not a layer neuralfx-process runs (conv1d, lstm, gru, dense, prelu, batchnorm, activation)");
            }
            info.description += (i ? " > " : " ") + type + " " + std::to_string(dims);
            width = dims;
        }
        if(width != 1)
            c.fail("the last layer has width " + std::to_string(width) + "; a mono effect model must end in a layer of width 1");
        if(recurrent_layers)
        {
            checkMetaInt(j, "hidden_size", first_hidden, "the first recurrent layer", c);
            checkMetaInt(j, "num_layers", recurrent_layers, "the layer list", c);
        }
        readMetadata(j, info, c);
        readKnobs(j, info, c);
        if(j.contains("in_skip"))
        {
            const json& v = j["in_skip"];
            if(!v.is_number_integer() || (v.get<long>() != 0 && v.get<long>() != 1))
                c.fail("'in_skip' is " + v.dump() + "; expected 0 or 1");
            if(j.contains("neuralfx") && j["neuralfx"].contains("skip") && info.skip != (v.get<long>() == 1))
                c.fail("'in_skip' is " + v.dump() + " but metadata says skip " + (info.skip ? "true" : "false")
                       + "; the file was edited by hand: export it again");
            info.skip = v.get<long>() == 1;
        }
        return info;
    }

    /** AIDA-X's keys, or our aidax export's metadata, mark a file AIDA-X plays. */
    bool isAidax(const json& j)
    {
        if(j.contains("neuralfx"))
        {
            const json& m = j["neuralfx"];
            return m.is_object() && m.contains("format") && m["format"] == "aidax";
        }
        for(const char* key : { "in_skip", "in_gain", "out_gain", "metadata" })
            if(j.contains(key))
                return true;
        return false;
    }

    float gainDb(const json& j, const char* key, const Checker& c)
    {
        if(!j.contains(key))
            return 0.0f;
        if(!j[key].is_number())
            c.fail(std::string("'") + key + "' is " + j[key].dump() + "; expected a number of dB");
        return j[key].get<float>();
    }

    /** What AIDA-X compiles: one lstm or gru layer, then dense 1 without activation. */
    void checkAidax(const json& j, ModelInfo& info, const Checker& c)
    {
        const json& layers = j["layers"];
        const std::string type = layers[0]["type"].get<std::string>();
        const bool dense_last = layers.size() == 2 && layers[1]["type"] == "dense"
                                && (!layers[1].contains("activation") || layers[1]["activation"] == "");
        if((type != "lstm" && type != "gru") || !dense_last)
            c.fail("is " + info.description.substr(8) + "; AIDA-X runs one lstm or gru layer followed by dense 1");
        info.format = "aidax";
        info.cell = type;
        info.hidden = c.lastInt(layers[0]["shape"], "layer 0 (" + type + ") 'shape'");
        info.in_skip = info.skip; // checkNative read in_skip; AIDA-X adds the gained input itself
        info.skip = false;
        info.in_gain_db = gainDb(j, "in_gain", c);
        info.out_gain_db = gainDb(j, "out_gain", c);
        if(!info.sample_rate_hz && j.contains("metadata") && j["metadata"].is_object() && j["metadata"].contains("samplerate"))
        {
            const json& r = j["metadata"]["samplerate"];
            try
            {
                info.sample_rate_hz = r.is_string() ? std::stoi(r.get<std::string>()) : c.lastInt(r, "metadata 'samplerate'");
            }
            catch(const std::logic_error&)
            {
                c.fail("metadata 'samplerate' is " + r.dump() + "; expected a rate in Hz such as \"48000\"");
            }
        }
        info.description = "aidax: " + type + " " + std::to_string(info.hidden) + " > dense 1";
    }
} // namespace

ModelInfo checkModel(const json& j, const std::string& where)
{
    const Checker c { where };
    if(!j.is_object())
        c.fail("not a model file (the top level is not a JSON object)");
    if(j.contains("layers") || j.contains("in_shape"))
    {
        ModelInfo info = checkNative(j, c);
        if(isAidax(j))
            checkAidax(j, info, c);
        return info;
    }
    for(const auto& item : j.items())
        if(item.key().rfind("lstm.", 0) == 0 || item.key().rfind("gru.", 0) == 0)
            return checkLab(j, c);
    c.fail("not a model file: it has neither 'layers' (RTNeural native) nor 'lstm.*'/'gru.*' keys (lab format)");
}

} // namespace nfx
