package dev.perfadvisor.shop;

import java.util.Map;

import org.springframework.boot.actuate.endpoint.SanitizableData;
import org.springframework.boot.actuate.endpoint.SanitizingFunction;
import org.springframework.boot.autoconfigure.cache.RedisCacheManagerBuilderCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.data.redis.cache.RedisCacheConfiguration;

@Configuration(proxyBeanMethods = false)
public class CacheConfig {

    /**
     * Gives each cache named in {@code shop.cache.ttl} its own time-to-live, on top of the defaults from
     * {@code spring.cache.redis.*} (statistics on, key prefix). This is what {@code perfadvisor apply} changes.
     */
    @Bean
    RedisCacheManagerBuilderCustomizer perCacheTtl(ShopProperties props, RedisCacheConfiguration defaults) {
        return builder -> {
            for (Map.Entry<String, java.time.Duration> e : props.cache().ttl().entrySet()) {
                builder.withCacheConfiguration(e.getKey(), defaults.entryTtl(e.getValue()));
            }
        };
    }

    /**
     * Spring Boot builds this from {@code spring.cache.redis.*} only when no bean exists; we build the same
     * thing so the customizer above can start from it.
     */
    @Bean
    RedisCacheConfiguration redisCacheConfiguration(org.springframework.boot.autoconfigure.cache.CacheProperties cacheProperties) {
        var redis = cacheProperties.getRedis();
        RedisCacheConfiguration config = RedisCacheConfiguration.defaultCacheConfig(getClass().getClassLoader());
        if (redis.getTimeToLive() != null) {
            config = config.entryTtl(redis.getTimeToLive());
        }
        if (redis.getKeyPrefix() != null) {
            config = config.prefixCacheNameWith(redis.getKeyPrefix());
        }
        if (!redis.isCacheNullValues()) {
            config = config.disableCachingNullValues();
        }
        if (!redis.isUseKeyPrefix()) {
            config = config.disableKeyPrefix();
        }
        return config;
    }

    /**
     * /actuator/configprops shows values (so perfadvisor can read the pool size and TTLs) but never secrets:
     * any key that looks like a credential is masked, and a password inside a URL is removed.
     */
    @Bean
    SanitizingFunction maskSecrets() {
        return data -> {
            if (isSecret(data.getKey())) {
                return data.withValue(SanitizableData.SANITIZED_VALUE);
            }
            if (data.getValue() instanceof String s && s.contains("@")) {
                return data.withValue(USERINFO_PASSWORD.matcher(s).replaceAll("$1" + SanitizableData.SANITIZED_VALUE + "@"));
            }
            return data;
        };
    }

    private static final java.util.regex.Pattern USERINFO_PASSWORD = java.util.regex.Pattern.compile("(://[^:/@]*:)[^@/]*@");

    static boolean isSecret(String key) {
        String k = key == null ? "" : key.toLowerCase(java.util.Locale.ROOT);
        return k.contains("password") || k.contains("secret") || k.contains("credential") || k.contains("token")
                || k.endsWith("key") || k.endsWith("keys");
    }
}
