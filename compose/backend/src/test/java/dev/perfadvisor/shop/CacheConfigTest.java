package dev.perfadvisor.shop;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.springframework.boot.actuate.endpoint.SanitizableData;
import org.springframework.boot.autoconfigure.cache.CacheProperties;
import org.springframework.data.redis.cache.RedisCacheManager;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;

class CacheConfigTest {

    private final CacheConfig config = new CacheConfig();

    @Test
    void eachCacheGetsItsConfiguredTtl() {
        var props = new ShopProperties(new ShopProperties.Cache(Map.of("products", Duration.ofSeconds(1),
                "categories", Duration.ofMinutes(10))), null);
        var defaults = config.redisCacheConfiguration(new CacheProperties());
        var builder = RedisCacheManager.builder(new LettuceConnectionFactory());
        config.perCacheTtl(props, defaults).customize(builder);
        assertThat(builder.getCacheConfigurationFor("products").orElseThrow().getTtlFunction()
                .getTimeToLive("k", "v")).isEqualTo(Duration.ofSeconds(1));
        assertThat(builder.getCacheConfigurationFor("categories").orElseThrow().getTtlFunction()
                .getTimeToLive("k", "v")).isEqualTo(Duration.ofMinutes(10));
        assertThat(props.jobs().stream()).isEqualTo("shop:order-jobs");
    }

    @Test
    void secretsAreMaskedAndUrlPasswordsRemoved() {
        var mask = config.maskSecrets();
        assertThat(mask.apply(data("password", "hunter2")).getValue()).isEqualTo(SanitizableData.SANITIZED_VALUE);
        assertThat(mask.apply(data("client-secret", "x")).getValue()).isEqualTo(SanitizableData.SANITIZED_VALUE);
        assertThat(mask.apply(data("url", "redis://u:hunter2@host:6379")).getValue())
                .isEqualTo("redis://u:******@host:6379");
        assertThat(mask.apply(data("maximum-pool-size", 2)).getValue()).isEqualTo(2);
    }

    private static SanitizableData data(String key, Object value) {
        return new SanitizableData(null, key, value);
    }
}
